import { definePlugin } from '../../core/plugin/manifest.js';
import { section } from './config.js';

export default definePlugin({
  name: 'sql',
  description: 'Identity provider: an SQL database (PostgreSQL, MySQL/MariaDB, SQLite) read with the operator\'s queries.',
  config: { sql: section },
  enabled: (c) => c.sql.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
