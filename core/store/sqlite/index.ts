/** The embedded backend: one SQLite file (better-sqlite3, WAL) for one process; one file per port beside this one. */
import cluster from 'node:cluster';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../port.js';
import { SqliteDb } from './db.js';
import { lockDatabase } from './lock.js';
import { SESSIONS_SCHEMA, SqliteSessions } from './sessions.js';
import { BINDS_SCHEMA, SqliteBinds } from './binds.js';
import { INVITES_SCHEMA, SqliteInvites } from './invites.js';
import { ACCOUNTS_SCHEMA, SqliteAccountTokens } from './accounts.js';
import { SqliteTerms, TERMS_SCHEMA } from './terms.js';
import { HASHES_SCHEMA, SqliteHashTables, SqlitePeppers } from './hashes.js';
import { ONBIND_SCHEMA, SqliteOnbind } from './onbind.js';
import { SqliteThirdParty, THIRD_PARTY_SCHEMA } from './third-party.js';
import { LEASES_SCHEMA, SqliteLeases } from './leases.js';
import { CHANGES_SCHEMA, SqliteChanges } from './changes.js';

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
 * Opens (creating if needed) the database at `path` (':memory:' for a throwaway one) and its
 * tables; a file is locked for this process (./lock.ts) until close(), or by the cluster's
 * primary for all its workers.
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
    database.exec([SESSIONS_SCHEMA, BINDS_SCHEMA, INVITES_SCHEMA, ACCOUNTS_SCHEMA, TERMS_SCHEMA, HASHES_SCHEMA, ONBIND_SCHEMA, THIRD_PARTY_SCHEMA, LEASES_SCHEMA, CHANGES_SCHEMA].join('\n'));
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
