/** Where the admin socket lives: one path, computed alike by the server and the CLI from the configuration. */
import { dirname, join } from 'node:path';
import type { Config } from '../../core/config/load.js';

/**
 * `admin.socket`, or admin.sock in the directory of the SQLite file; null for an in-memory
 * SQLite store without `admin.socket` (nothing outside the process could reach its data).
 */
export function adminSocketPath(config: Config): string | null {
  if (config.admin.socket) return config.admin.socket;
  if (config.storage.backend === 'sqlite' && config.storage.sqlite.path === ':memory:') return null;
  return join(dirname(config.storage.sqlite.path), 'admin.sock');
}
