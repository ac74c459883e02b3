/** Picks the storage backend named by `storage.backend`. */
import type { Config } from '../config/load.js';
import type { Store } from './port.js';
import { SqliteStore, type SqliteOptions } from './sqlite.js';

export type { Store } from './port.js';

export async function createStore(storage: Config['storage']): Promise<Store> {
  if (storage.backend === 'mongodb') {
    const { MongoStore } = await import('./mongodb.js');
    return new MongoStore(storage.mongodb.uri, storage.mongodb.database);
  }
  return new SqliteStore(storage.sqlite.path, { synchronous: storage.sqlite.synchronous as SqliteOptions['synchronous'] });
}
