/** The embedded backend: one SQLite file (better-sqlite3, WAL) for one process; one file per port beside this one. */
import cluster from 'node:cluster';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../port.js';
import { SqliteDb } from './db.js';
import { lockDatabase } from './lock.js';
import { SqliteSessions } from './sessions.js';
import { SqliteBinds } from './binds.js';
import { SqliteInvites } from './invites.js';
import { SqliteAccountTokens } from './accounts.js';
import { SqliteTerms } from './terms.js';
import { SqliteHashTables, SqlitePeppers } from './hashes.js';
import { SqliteOnbind } from './onbind.js';
import { SqliteThirdParty } from './third-party.js';
import { SqliteLeases } from './leases.js';
import { SqliteChanges } from './changes.js';
import { migrateSqlite } from './migrations.js';

export interface SqliteStore extends Store {
  /** The journal mode in force ('wal' for a file, 'memory' for ':memory:'). */
  journalMode(): string;
  /** The synchronous level in force (1 = NORMAL, 2 = FULL). */
  synchronousLevel(): number;
}

export interface SqliteOptions {
  /**
   * full (default): a commit is on disk before it is answered, so it survives a power loss or
   * an OS crash. normal: in WAL mode, the last commits can be lost on those (not on a crash of
   * the process alone), for fewer fsyncs.
   */
  synchronous?: 'full' | 'normal';
}

/**
 * Opens (creating if needed) the database at `path` (':memory:' for a throwaway one) and
 * applies the schema migrations missing (./migrations.ts); a file is locked for this process
 * (./lock.ts) until close(), or by the cluster's primary for all its workers.
 */
export async function openSqliteStore(path: string, options: SqliteOptions = {}): Promise<SqliteStore> {
  let lock: Database.Database | null = null;
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    // The workers of `server.workers` share the database: their primary holds the lock (core/server.ts).
    if (!cluster.isWorker) lock = lockDatabase(path);
  }
  let database: Database.Database | null = null;
  try {
    database = new Database(path);
    database.pragma('journal_mode = WAL');
    database.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    database.pragma('busy_timeout = 5000');
    migrateSqlite(database);
  } catch (error) {
    database?.close();
    lock?.close();
    throw error;
  }
  const db = new SqliteDb(database);
  return {
    sessions: new SqliteSessions(db),
    binds: new SqliteBinds(db),
    invites: new SqliteInvites(db),
    accounts: new SqliteAccountTokens(db),
    terms: new SqliteTerms(db),
    peppers: new SqlitePeppers(db),
    hashes: new SqliteHashTables(db),
    onbind: new SqliteOnbind(db),
    thirdParty: new SqliteThirdParty(db),
    leases: new SqliteLeases(db),
    changes: new SqliteChanges(db),
    journalMode: () => db.sql.pragma('journal_mode', { simple: true }) as string,
    ping: async () => { db.prepared('SELECT 1').get(); },
    synchronousLevel: () => db.sql.pragma('synchronous', { simple: true }) as number,
    close: async () => {
      db.close();
      lock?.close();
      lock = null;
    },
  };
}
