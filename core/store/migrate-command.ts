/**
 * `unisd db migrate [--dry-run]`: the schema migrations of the configured store (./migrations.ts),
 * run ahead of a start (a start runs them too), or only listed.
 */
import type { CoreConfig } from '../config/types.js';
import { describeApplied, describePending } from './migrations.js';
import { storageLocation } from './index.js';

export async function dbMigrate(storage: CoreConfig['storage'], dryRun: boolean): Promise<string> {
  const where = storageLocation(storage);
  switch (storage.backend) {
    case 'mongodb':
      return `${where}: no schema migrations (MongoDB's indexes are created at start)\n`;
    case 'sqlite': {
      const { sqlitePending } = await import('./sqlite/migrations.js');
      const pending = sqlitePending(storage.sqlite.path);
      if (dryRun) return describePending(where, pending);
      // Opening migrates; it holds the file's lock, so nothing else migrated it meanwhile.
      const { openSqliteStore } = await import('./sqlite/index.js');
      await (await openSqliteStore(storage.sqlite.path)).close();
      return describeApplied(where, pending);
    }
    case 'postgresql': {
      if (!storage.postgresql.uri) throw new Error('storage.postgresql.uri is required when storage.backend is postgresql');
      const { createPool } = await import('./postgresql/db.js');
      const { migratePostgres, postgresPending } = await import('./postgresql/migrations.js');
      const db = createPool({ ...storage.postgresql, maxConnections: 1 });
      try {
        return dryRun ? describePending(where, await postgresPending(db)) : describeApplied(where, await migratePostgres(db));
      } finally {
        await db.close();
      }
    }
  }
}
