/** The `sql` provider plugin: an SQL database read with the operator's queries (ma1sd's `sql` section). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { section } from './config.js';

const config = { sql: section };

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'sql',
  description: 'identity provider: an SQL database (PostgreSQL, MySQL/MariaDB, SQLite) read with the operator\'s queries',
  config,
  example: `
sql:
  # Any SQL database holding mappings, read with your queries (ma1sd's keys; plugins/sql/README.md).
  enabled: false
  # postgresql, mysql or mariadb, sqlite.
  type: postgresql
  # Secret: prefer UNISD_SQL_CONNECTION. ma1sd's //host/db?user=…&password=… works too;
  # for sqlite, the file path.
  connection: postgresql://unisd:change-me@db.example.org/identities
  pool:
    # Connections open at once at most; streaming the hash source holds one.
    size: 4
    idleTimeout: 30s
  identity:
    # false: no lookups, only the hash source below.
    enabled: true
    # mxid: the query returns Matrix IDs; localpart (ma1sd also wrote uid): on matrix.domain.
    type: localpart
    # ? and ? are bound to medium and address (normalised: lower-case email, msisdn digits).
    query: 'SELECT login AS uid FROM people WHERE medium = ? AND address = ?'
    # A dedicated query per medium (email, msisdn), with ?, ? as above or one ? for the address.
    medium:
      msisdn: 'SELECT login AS uid FROM people WHERE phone = ?'
  lookup:
    # Hash source: must return the columns mxid, medium and address; empty: none.
    query: 'select user as mxid, field1 as medium, field2 as address from some_table'
  # ma1sd's user directory, profile and authentication settings: accepted, not used.
  auth: {}
  directory: {}
  profile: {}
`,
  enabled: (c) => c.sql.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
