import { definePlugin } from '../../core/plugin/manifest.js';
import { section } from './config.js';

export default definePlugin({
  name: 'synapse-sql',
  description: 'Identity provider: the 3PIDs of a Synapse homeserver\'s database (PostgreSQL or SQLite).',
  config: { synapseSql: section },
  enabled: (c) => c.synapseSql.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
