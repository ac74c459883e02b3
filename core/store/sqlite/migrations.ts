/**
 * The SQLite schema, as numbered migrations (../migrations.ts), and how they are applied: in one
 * IMMEDIATE transaction, which takes the database's write lock, so the processes of
 * server.workers opening it together take turns and the later ones find nothing left to do.
 * Released migrations are never edited.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { pendingMigrations, type Migration } from '../migrations.js';
import { LEASES_SCHEMA } from './leases.js';
import { CHANGES_SCHEMA } from './changes.js';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // IF NOT EXISTS: databases made before versioned migrations already hold these tables.
    name: 'sessions, binds, invites, account tokens, terms, pepper and hash tables, onbind queue, third-party mappings',
    sql: `
CREATE TABLE IF NOT EXISTS sessions (
  sid TEXT PRIMARY KEY, medium TEXT NOT NULL, address TEXT NOT NULL, client_secret TEXT NOT NULL,
  token_hash TEXT NOT NULL, send_attempt INTEGER NOT NULL, next_link TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, validated_at INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS sessions_threepid ON sessions (medium, address, client_secret);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (updated_at);
CREATE TABLE IF NOT EXISTS associations (
  medium TEXT NOT NULL, address TEXT NOT NULL, mxid TEXT NOT NULL, ts INTEGER NOT NULL,
  not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, signed TEXT NOT NULL,
  PRIMARY KEY (medium, address));
CREATE INDEX IF NOT EXISTS associations_mxid ON associations (mxid);
CREATE TABLE IF NOT EXISTS invites (
  token TEXT PRIMARY KEY, medium TEXT NOT NULL, address TEXT NOT NULL, room_id TEXT NOT NULL, sender TEXT NOT NULL,
  fields TEXT NOT NULL, ephemeral_public_key TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, delivered_at INTEGER);
CREATE INDEX IF NOT EXISTS invites_threepid ON invites (medium, address);
CREATE INDEX IF NOT EXISTS invites_expiry ON invites (expires_at);
CREATE INDEX IF NOT EXISTS invites_sender ON invites (sender);
CREATE TABLE IF NOT EXISTS ephemeral_keys (public_key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS account_tokens (
  token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER);
CREATE INDEX IF NOT EXISTS account_tokens_expiry ON account_tokens (expires_at);
CREATE INDEX IF NOT EXISTS account_tokens_user ON account_tokens (user_id, created_at);
CREATE TABLE IF NOT EXISTS accepted_policies (
  user_id TEXT NOT NULL, policy TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (user_id, policy, version));
CREATE TABLE IF NOT EXISTS pepper_state (
  id INTEGER PRIMARY KEY CHECK (id = 1), pepper TEXT NOT NULL, alt_peppers TEXT NOT NULL,
  rotated_at INTEGER NOT NULL, request_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hash_sets (
  generation INTEGER PRIMARY KEY AUTOINCREMENT, pepper TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS hash_sets_active ON hash_sets (pepper) WHERE active = 1;
CREATE TABLE IF NOT EXISTS hash_entries (
  generation INTEGER NOT NULL, hash TEXT NOT NULL, mxid TEXT NOT NULL, PRIMARY KEY (generation, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS onbind_queue (
  id TEXT PRIMARY KEY, destination TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL, last_error TEXT, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS onbind_due ON onbind_queue (next_attempt_at);
DROP TABLE IF EXISTS third_party_mappings;
CREATE TABLE IF NOT EXISTS tp_snapshots (
  generation INTEGER PRIMARY KEY AUTOINCREMENT, server TEXT NOT NULL, pepper TEXT NOT NULL, snapshot TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 0, pushed_at INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS tp_snapshots_active ON tp_snapshots (server, pepper) WHERE active = 1;
CREATE UNIQUE INDEX IF NOT EXISTS tp_snapshots_pending ON tp_snapshots (server, pepper) WHERE active = 0;
CREATE INDEX IF NOT EXISTS tp_snapshots_pepper ON tp_snapshots (pepper, active);
CREATE TABLE IF NOT EXISTS tp_hashes (generation INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (generation, hash)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tp_hashes_hash ON tp_hashes (hash);
CREATE TABLE IF NOT EXISTS tp_chunks (generation INTEGER NOT NULL, chunk INTEGER NOT NULL, PRIMARY KEY (generation, chunk)) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'leases and the change log (several instances)',
    sql: LEASES_SCHEMA + CHANGES_SCHEMA,
  },
];

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`;

const appliedVersions = (database: Database.Database): number[] =>
  (database.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version);

/** Applies the missing migrations; returns them. */
export function migrateSqlite(database: Database.Database): Migration[] {
  return database.transaction(() => {
    database.exec(CREATE_MIGRATIONS_TABLE);
    const pending = pendingMigrations(SQLITE_MIGRATIONS, appliedVersions(database));
    const record = database.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of pending) {
      database.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }
    return pending;
  }).immediate();
}

/** The migrations a start would apply to the database at `path` now (`unisd db migrate --dry-run`); writes nothing. */
export function sqlitePending(path: string): Migration[] {
  if (path === ':memory:' || !existsSync(path)) return [...SQLITE_MIGRATIONS];
  const database = new Database(path, { readonly: true });
  try {
    const known = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    return pendingMigrations(SQLITE_MIGRATIONS, known ? appliedVersions(database) : []);
  } finally {
    database.close();
  }
}
