/**
 * The PostgreSQL schema, as numbered migrations (../migrations.ts), and how they are applied:
 * under a session advisory lock on unisd's schema, so that instances starting together wait for
 * the first one and find nothing left to do. Released migrations are never edited.
 */
import { pendingMigrations, type Migration } from '../migrations.js';
import { quoteIdent, type PgDb } from './db.js';
import { LEASES_SCHEMA } from './leases.js';
import { CHANGES_SCHEMA } from './changes.js';

export const POSTGRESQL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, binds, invites, account tokens, terms, pepper and hash tables, onbind queue, third-party mappings',
    sql: `
CREATE TABLE sessions (
  sid TEXT PRIMARY KEY, medium TEXT NOT NULL, address TEXT NOT NULL, client_secret TEXT NOT NULL,
  token_hash TEXT NOT NULL, send_attempt BIGINT NOT NULL, next_link TEXT,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, validated_at BIGINT);
CREATE UNIQUE INDEX sessions_threepid ON sessions (medium, address, client_secret);
CREATE INDEX sessions_updated ON sessions (updated_at);

CREATE TABLE associations (
  medium TEXT NOT NULL, address TEXT NOT NULL, mxid TEXT NOT NULL, ts BIGINT NOT NULL,
  not_before BIGINT NOT NULL, not_after BIGINT NOT NULL, signed TEXT NOT NULL,
  PRIMARY KEY (medium, address));
CREATE INDEX associations_mxid ON associations (mxid);

CREATE TABLE invites (
  token TEXT PRIMARY KEY, medium TEXT NOT NULL, address TEXT NOT NULL, room_id TEXT NOT NULL, sender TEXT NOT NULL,
  fields TEXT NOT NULL, ephemeral_public_key TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, delivered_at BIGINT);
CREATE INDEX invites_threepid ON invites (medium, address);
CREATE INDEX invites_expiry ON invites (expires_at);
CREATE INDEX invites_sender ON invites (sender);
CREATE TABLE ephemeral_keys (public_key TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE INDEX ephemeral_keys_expiry ON ephemeral_keys (expires_at);

-- seq: insertion order, which breaks ties between tokens created in the same millisecond.
CREATE TABLE account_tokens (
  token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, seq BIGSERIAL NOT NULL);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);
CREATE INDEX account_tokens_user ON account_tokens (user_id, created_at, seq);

CREATE TABLE accepted_policies (
  user_id TEXT NOT NULL, policy TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (user_id, policy, version));

CREATE TABLE pepper_state (
  id INTEGER PRIMARY KEY CHECK (id = 1), pepper TEXT NOT NULL, alt_peppers TEXT[] NOT NULL,
  rotated_at BIGINT NOT NULL, request_count BIGINT NOT NULL);
-- One hash table per pepper, written as a new generation (its own partition of hash_entries),
-- then made active; touched_at moves with each batch written.
CREATE TABLE hash_sets (
  generation BIGSERIAL PRIMARY KEY, pepper TEXT NOT NULL, active BOOLEAN NOT NULL DEFAULT false, touched_at BIGINT NOT NULL);
CREATE UNIQUE INDEX hash_sets_active ON hash_sets (pepper) WHERE active;
CREATE TABLE hash_entries (
  generation BIGINT NOT NULL, hash TEXT COLLATE "C" NOT NULL, mxid TEXT NOT NULL,
  PRIMARY KEY (generation, hash)) PARTITION BY LIST (generation);

CREATE TABLE onbind_queue (
  id TEXT PRIMARY KEY, destination TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL, last_error TEXT, created_at BIGINT NOT NULL);
CREATE INDEX onbind_due ON onbind_queue (next_attempt_at);

CREATE TABLE tp_snapshots (
  generation BIGSERIAL PRIMARY KEY, server TEXT NOT NULL, pepper TEXT NOT NULL, snapshot TEXT NOT NULL,
  active BOOLEAN NOT NULL DEFAULT false, pushed_at BIGINT);
CREATE UNIQUE INDEX tp_snapshots_active ON tp_snapshots (server, pepper) WHERE active;
CREATE UNIQUE INDEX tp_snapshots_pending ON tp_snapshots (server, pepper) WHERE NOT active;
CREATE INDEX tp_snapshots_pepper ON tp_snapshots (pepper) WHERE active;
CREATE TABLE tp_hashes (
  generation BIGINT NOT NULL REFERENCES tp_snapshots ON DELETE CASCADE, hash TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (generation, hash));
CREATE INDEX tp_hashes_hash ON tp_hashes (hash);
-- The chunks of an open snapshot received so far (several hub instances share one snapshot).
CREATE TABLE tp_chunks (
  generation BIGINT NOT NULL REFERENCES tp_snapshots ON DELETE CASCADE, chunk INTEGER NOT NULL, PRIMARY KEY (generation, chunk));
`,
  },
  {
    version: 2,
    name: 'leases and the change log (several instances)',
    sql: LEASES_SCHEMA + CHANGES_SCHEMA,
  },
];

/** The advisory lock key space of unisd's migrations ('unis'); the second key is the schema's hash. */
const MIGRATION_LOCK = 0x756e6973;

/** The versions recorded in `schema_migrations` (none when unisd's schema or that table does not exist yet). */
async function appliedVersions(db: PgDb): Promise<number[]> {
  const [{ exists }] = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [`${quoteIdent(db.schema)}.schema_migrations`]);
  if (!exists) return [];
  return (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
}

/** The migrations a start would apply now (`unisd db migrate --dry-run`); writes nothing. */
export async function postgresPending(db: PgDb): Promise<Migration[]> {
  return pendingMigrations(POSTGRESQL_MIGRATIONS, await appliedVersions(db));
}

/** Applies the missing migrations, each in its own transaction; returns them. */
export async function migratePostgres(db: PgDb): Promise<Migration[]> {
  const client = await db.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK, db.schema]);
    try {
      // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
      // database even when the schema exists.
      const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [db.schema]);
      if (!rowCount) await client.query(`CREATE SCHEMA ${quoteIdent(db.schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      const applied = (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version);
      const pending = pendingMigrations(POSTGRESQL_MIGRATIONS, applied);
      for (const migration of pending) {
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => { broken = true; });
          throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`);
        }
      }
      return pending;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK, db.schema]).catch(() => { broken = true; });
    }
  } finally {
    // A connection whose unlock failed goes, and its session lock with it.
    client.release(broken);
  }
}
