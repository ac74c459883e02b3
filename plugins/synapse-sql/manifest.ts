/** The `synapseSql` provider plugin: the 3PIDs of a Synapse homeserver's database (ma1sd's `synapseSql` section). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { section } from './config.js';

const config = { synapseSql: section };

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'synapse-sql',
  description: 'identity provider: the 3PIDs of a Synapse homeserver\'s database (PostgreSQL or SQLite)',
  config,
  example: `
synapseSql:
  # Synapse's own database (PostgreSQL or SQLite): the 3PIDs users added to their accounts,
  # deactivated users left out. Same keys as sql; plugins/synapse-sql/README.md.
  enabled: false
  type: postgresql
  # Secret: prefer UNISD_SYNAPSE_SQL_CONNECTION. A read-only role is enough.
  connection: postgresql://synapse_ro:change-me@db.example.org/synapse
  pool:
    size: 4
    idleTimeout: 30s
  identity:
    enabled: true
    type: mxid
    # The built-in query (keep it to have bulk lookups in one query per medium).
    query: 'SELECT t.user_id AS uid FROM user_threepids t JOIN users u ON u.name = t.user_id WHERE u.deactivated = 0 AND t.medium = ? AND t.address = ?'
    medium: {}
  lookup:
    # Hash source: the 3PIDs users bound to an identity server through Synapse (the default).
    query: 'select user_id as mxid, medium, address from user_threepid_id_server'
  auth: {}
  directory: {}
  profile: {}
  # ma1sd's room name setting: accepted, not used.
  legacyRoomNames: false
`,
  enabled: (c) => c.synapseSql.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
