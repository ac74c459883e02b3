/**
 * The PostgreSQL backend (`pg`), shared by several unisd instances; one file per port beside
 * this one. Opening applies the schema migrations missing (./migrations.ts). Writes are
 * single statements or transactions, answered once committed (synchronous_commit on: ./db.ts).
 */
import pg from 'pg';
import type { Store } from '../port.js';
import { createPool, type PgDb, type PgOptions } from './db.js';
import { migratePostgres } from './migrations.js';
import { PgSessions } from './sessions.js';
import { PgBinds } from './binds.js';
import { PgInvites } from './invites.js';
import { PgAccountTokens } from './accounts.js';
import { PgTerms } from './terms.js';
import { PgHashTables, PgPeppers } from './hashes.js';
import { PgOnbind } from './onbind.js';
import { PgThirdParty } from './third-party.js';
import { PgLeases } from './leases.js';
import { PgChanges } from './changes.js';

export type { PgOptions } from './db.js';

export interface PostgresStore extends Store {
  /** The pool the area files share (tests; the multi-instance parts take their own connections from it). */
  db: PgDb;
}

/** Connects, migrates and removes what crashed hash table replacements left. */
export async function openPostgresStore(options: PgOptions): Promise<PostgresStore> {
  if (!options.uri) throw new Error('storage.postgresql.uri is required when storage.backend is postgresql');
  const db = createPool(options);
  const hashes = new PgHashTables(db);
  try {
    await migratePostgres(db);
    await hashes.init();
  } catch (error) {
    await db.close();
    throw error;
  }
  return {
    db,
    sessions: new PgSessions(db),
    binds: new PgBinds(db),
    invites: new PgInvites(db),
    accounts: new PgAccountTokens(db),
    terms: new PgTerms(db),
    peppers: new PgPeppers(db),
    hashes,
    onbind: new PgOnbind(db),
    thirdParty: new PgThirdParty(db),
    leases: new PgLeases(db),
    // LISTEN holds its connection for good: one of its own, not one of the pool's.
    changes: new PgChanges(db, () => new pg.Client({ connectionString: options.uri, application_name: 'unisd', connectionTimeoutMillis: options.connectionTimeout })),
    ping: async () => { await db.query('SELECT 1'); },
    close: () => db.close(),
  };
}
