/** Opens the storage backend named by `storage.backend`, and selects the hash tables. */
import type { CoreConfig } from '../config/types.js';
import type { HashTableStore, Store } from './port.js';

export type { Store } from './port.js';

export async function openStore(storage: CoreConfig['storage']): Promise<Store> {
  if (storage.backend === 'mongodb') {
    const { openMongoStore } = await import('./mongodb/index.js');
    return openMongoStore(storage.mongodb.uri, storage.mongodb.database);
  }
  if (storage.backend === 'postgresql') {
    const { openPostgresStore } = await import('./postgresql/index.js');
    return openPostgresStore(storage.postgresql);
  }
  const { openSqliteStore } = await import('./sqlite/index.js');
  return openSqliteStore(storage.sqlite.path, { synchronous: storage.sqlite.synchronous });
}

/** Where the data lives, for logs and errors: never a connection string (it holds a password). */
export function storageLocation(storage: CoreConfig['storage']): string {
  switch (storage.backend) {
    case 'sqlite': return `sqlite ${storage.sqlite.path}`;
    case 'mongodb': return `mongodb database ${storage.mongodb.database}`;
    case 'postgresql': {
      let database = '';
      try {
        const url = new URL(storage.postgresql.uri);
        database = ` database ${decodeURIComponent(url.pathname.slice(1))} on ${url.hostname}${url.port ? `:${url.port}` : ''}`;
      } catch { /* not a URL (key=value form): named by its schema only */ }
      return `postgresql${database} schema ${storage.postgresql.schema}`;
    }
  }
}

/**
 * The hash tables for `hashing.hashStorageType`: `sql`, the storage backend's own (shared by
 * instances, surviving restarts), or `in_memory`, the one the caller brings (the lookup
 * plugin's compact index, rebuilt at start).
 */
export function selectHashTables(type: 'sql' | 'in_memory', store: Store, inMemory: () => HashTableStore): HashTableStore {
  return type === 'in_memory' ? inMemory() : store.hashes;
}
