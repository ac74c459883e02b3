/** The embedded backend: one SQLite file (better-sqlite3, WAL); one file per port beside this one. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../port.js';
import { SqliteDb } from './db.js';
import { SESSIONS_SCHEMA, SqliteSessions } from './sessions.js';
import { BINDS_SCHEMA, SqliteBinds } from './binds.js';
import { INVITES_SCHEMA, SqliteInvites } from './invites.js';
import { ACCOUNTS_SCHEMA, SqliteAccountTokens } from './accounts.js';
import { SqliteTerms, TERMS_SCHEMA } from './terms.js';
import { HASHES_SCHEMA, SqliteHashTables, SqlitePeppers } from './hashes.js';
import { ONBIND_SCHEMA, SqliteOnbind } from './onbind.js';
import { SqliteThirdParty, THIRD_PARTY_SCHEMA } from './third-party.js';

export interface SqliteStore extends Store {
  /** The journal mode in force ('wal' for a file, 'memory' for ':memory:'). */
  journalMode(): string;
}

/** Opens (creating if needed) the database at `path` (':memory:' for a throwaway one) and its tables. */
export async function openSqliteStore(path: string): Promise<SqliteStore> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new Database(path);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    database.exec([SESSIONS_SCHEMA, BINDS_SCHEMA, INVITES_SCHEMA, ACCOUNTS_SCHEMA, TERMS_SCHEMA, HASHES_SCHEMA, ONBIND_SCHEMA, THIRD_PARTY_SCHEMA].join('\n'));
  } catch (error) {
    database.close();
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
    journalMode: () => db.sql.pragma('journal_mode', { simple: true }) as string,
    close: async () => db.close(),
  };
}
