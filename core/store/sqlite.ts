/**
 * The embedded backend: one SQLite file (better-sqlite3, WAL). Synchronous underneath; the
 * port is async so that it is interchangeable with MongoStore. Every value is a bound
 * parameter; the only SQL built at run time is a list of `?` placeholders and column names
 * taken from a fixed table.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AcceptedPolicy, AccountToken, Association, HashEntry, Medium, OnbindDelivery, PendingInvite, PepperState, SessionChanges, Store, ThreePid, ValidationSession,
} from './port.js';

/*
 * Hash tables: each replaceHashes writes a new hash set (a generation) that lookups cannot see,
 * then makes it the active set of its pepper in one statement and drops the previous one.
 */
const SCHEMA = `
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
CREATE TABLE IF NOT EXISTS invites (
  token TEXT PRIMARY KEY, medium TEXT NOT NULL, address TEXT NOT NULL, room_id TEXT NOT NULL, sender TEXT NOT NULL,
  fields TEXT NOT NULL, ephemeral_public_key TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, delivered_at INTEGER);
CREATE INDEX IF NOT EXISTS invites_threepid ON invites (medium, address);
CREATE INDEX IF NOT EXISTS invites_expiry ON invites (expires_at);
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
CREATE TABLE IF NOT EXISTS third_party_mappings (
  server TEXT NOT NULL, pepper TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (pepper, hash, server)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS third_party_mappings_server ON third_party_mappings (server, pepper);
`;

type Row = Record<string, any>;

const toSession = (r: Row): ValidationSession => ({
  sid: r.sid, medium: r.medium, address: r.address, clientSecret: r.client_secret, tokenHash: r.token_hash,
  sendAttempt: r.send_attempt, nextLink: r.next_link, createdAt: r.created_at, updatedAt: r.updated_at, validatedAt: r.validated_at,
});
const toAssociation = (r: Row): Association => ({
  medium: r.medium, address: r.address, mxid: r.mxid, ts: r.ts, notBefore: r.not_before, notAfter: r.not_after, signed: JSON.parse(r.signed),
});
const toInvite = (r: Row): PendingInvite => ({
  token: r.token, medium: r.medium, address: r.address, roomId: r.room_id, sender: r.sender, fields: JSON.parse(r.fields),
  ephemeralPublicKey: r.ephemeral_public_key, createdAt: r.created_at, expiresAt: r.expires_at, deliveredAt: r.delivered_at,
});
const toOnbind = (r: Row): OnbindDelivery => ({
  id: r.id, destination: r.destination, body: JSON.parse(r.body), attempts: r.attempts, nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error, createdAt: r.created_at,
});

const SESSION_COLUMNS: Record<keyof SessionChanges, string> = {
  tokenHash: 'token_hash', sendAttempt: 'send_attempt', nextLink: 'next_link', updatedAt: 'updated_at', validatedAt: 'validated_at',
};

/** Bulk queries go in chunks of this many bound values (SQLite caps parameters per statement). */
const CHUNK = 500;
function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
const placeholders = (count: number): string => new Array(count).fill('?').join(',');
/** A value asked for twice would otherwise come back twice when it falls in two chunks. */
const unique = (values: string[]): string[] => [...new Set(values)];

export class SqliteStore implements Store {
  private db: Database.Database | null = null;
  /** Statements with an IN list, by SQL text: lookups repeat the same few list lengths. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly path: string) {}

  private get sql(): Database.Database {
    if (!this.db) throw new Error('SqliteStore used before init() or after close()');
    return this.db;
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.sql.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  async init(): Promise<void> {
    if (this.db) return;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    // Hash sets never made active were left by a replacement that did not finish (crash): one
    // process owns an SQLite file, so none of them is still being written.
    db.exec(`BEGIN;
      DELETE FROM hash_entries WHERE generation IN (SELECT generation FROM hash_sets WHERE active = 0);
      DELETE FROM hash_sets WHERE active = 0;
      COMMIT;`);
    this.db = db;
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = null;
  }

  /** The journal mode in force ('wal' for a file, 'memory' for ':memory:'). */
  journalMode(): string {
    return this.sql.pragma('journal_mode', { simple: true }) as string;
  }

  async createSession(s: ValidationSession): Promise<void> {
    this.prepared(`INSERT INTO sessions (sid, medium, address, client_secret, token_hash, send_attempt, next_link, created_at, updated_at, validated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(s.sid, s.medium, s.address, s.clientSecret, s.tokenHash, s.sendAttempt, s.nextLink, s.createdAt, s.updatedAt, s.validatedAt);
  }

  async getSession(sid: string): Promise<ValidationSession | null> {
    const row = this.prepared('SELECT * FROM sessions WHERE sid = ?').get(sid) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async findSession(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null> {
    const row = this.prepared('SELECT * FROM sessions WHERE medium = ? AND address = ? AND client_secret = ?').get(medium, address, clientSecret) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async updateSession(sid: string, changes: SessionChanges): Promise<void> {
    const entries = (Object.keys(SESSION_COLUMNS) as Array<keyof SessionChanges>)
      .filter((key) => changes[key] !== undefined)
      .map((key) => [SESSION_COLUMNS[key], changes[key]] as const);
    if (entries.length === 0) return;
    const sets = entries.map(([column]) => `${column} = ?`).join(', ');
    this.prepared(`UPDATE sessions SET ${sets} WHERE sid = ?`).run(...entries.map(([, value]) => value), sid);
  }

  async deleteSession(sid: string): Promise<void> {
    this.prepared('DELETE FROM sessions WHERE sid = ?').run(sid);
  }

  async deleteSessionsBefore(before: number): Promise<number> {
    return this.prepared('DELETE FROM sessions WHERE updated_at < ?').run(before).changes;
  }

  async putAssociation(a: Association): Promise<void> {
    this.prepared(`INSERT OR REPLACE INTO associations (medium, address, mxid, ts, not_before, not_after, signed) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(a.medium, a.address, a.mxid, a.ts, a.notBefore, a.notAfter, JSON.stringify(a.signed));
  }

  async getAssociation(medium: Medium, address: string): Promise<Association | null> {
    const row = this.prepared('SELECT * FROM associations WHERE medium = ? AND address = ?').get(medium, address) as Row | undefined;
    return row ? toAssociation(row) : null;
  }

  async getAssociations(threepids: ThreePid[]): Promise<Association[]> {
    const out: Association[] = [];
    const distinct = [...new Map(threepids.map((t) => [JSON.stringify([t.medium, t.address]), t])).values()];
    // Each 3PID takes two values, so half a chunk of them per statement.
    for (const chunk of chunks(distinct, CHUNK / 2)) {
      const pairs = chunk.map(() => '(?, ?)').join(',');
      const rows = this.prepared(`SELECT * FROM associations WHERE (medium, address) IN (VALUES ${pairs})`)
        .all(...chunk.flatMap((t) => [t.medium, t.address])) as Row[];
      out.push(...rows.map(toAssociation));
    }
    return out;
  }

  async deleteAssociation(medium: Medium, address: string, mxid: string): Promise<boolean> {
    return this.prepared('DELETE FROM associations WHERE medium = ? AND address = ? AND mxid = ?').run(medium, address, mxid).changes > 0;
  }

  async *streamAssociations(): AsyncIterable<Association> {
    // Pages by primary key, so the iteration holds no read transaction across the consumer's awaits.
    const first = this.prepared('SELECT * FROM associations ORDER BY medium, address LIMIT 1000');
    const next = this.prepared('SELECT * FROM associations WHERE (medium, address) > (?, ?) ORDER BY medium, address LIMIT 1000');
    let rows = first.all() as Row[];
    while (rows.length > 0) {
      for (const row of rows) yield toAssociation(row);
      const last = rows[rows.length - 1];
      rows = next.all(last.medium, last.address) as Row[];
    }
  }

  async putInvite(i: PendingInvite): Promise<void> {
    this.prepared(`INSERT INTO invites (token, medium, address, room_id, sender, fields, ephemeral_public_key, created_at, expires_at, delivered_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(i.token, i.medium, i.address, i.roomId, i.sender, JSON.stringify(i.fields), i.ephemeralPublicKey, i.createdAt, i.expiresAt, i.deliveredAt);
  }

  async getInvite(token: string): Promise<PendingInvite | null> {
    const row = this.prepared('SELECT * FROM invites WHERE token = ?').get(token) as Row | undefined;
    return row ? toInvite(row) : null;
  }

  async findInvites(medium: Medium, address: string, now: number): Promise<PendingInvite[]> {
    const rows = this.prepared('SELECT * FROM invites WHERE medium = ? AND address = ? AND expires_at > ? AND delivered_at IS NULL ORDER BY created_at, token').all(medium, address, now) as Row[];
    return rows.map(toInvite);
  }

  async deleteInvite(token: string): Promise<void> {
    this.prepared('DELETE FROM invites WHERE token = ?').run(token);
  }

  async markInvitesDelivered(tokens: string[], at: number): Promise<void> {
    for (const chunk of chunks(tokens)) {
      this.prepared(`UPDATE invites SET delivered_at = ? WHERE token IN (${placeholders(chunk.length)})`).run(at, ...chunk);
    }
  }

  async deleteInvitesBefore(expiresBefore: number): Promise<number> {
    return this.sql.transaction(() => {
      this.prepared('DELETE FROM ephemeral_keys WHERE expires_at < ?').run(expiresBefore);
      return this.prepared('DELETE FROM invites WHERE expires_at < ?').run(expiresBefore).changes;
    })();
  }

  async putEphemeralKey(publicKey: string, expiresAt: number): Promise<void> {
    this.prepared('INSERT OR REPLACE INTO ephemeral_keys (public_key, expires_at) VALUES (?, ?)').run(publicKey, expiresAt);
  }

  async isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean> {
    return this.prepared('SELECT 1 FROM ephemeral_keys WHERE public_key = ? AND expires_at > ?').get(publicKey, now) !== undefined;
  }

  async putAccountToken(t: AccountToken): Promise<void> {
    this.prepared('INSERT INTO account_tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(t.tokenHash, t.userId, t.createdAt, t.expiresAt);
  }

  async getAccountToken(tokenHash: string): Promise<AccountToken | null> {
    const r = this.prepared('SELECT * FROM account_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r ? { tokenHash: r.token_hash, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at } : null;
  }

  async deleteAccountToken(tokenHash: string): Promise<void> {
    this.prepared('DELETE FROM account_tokens WHERE token_hash = ?').run(tokenHash);
  }

  async deleteAccountTokensBefore(expiresBefore: number): Promise<number> {
    return this.prepared('DELETE FROM account_tokens WHERE expires_at IS NOT NULL AND expires_at < ?').run(expiresBefore).changes;
  }

  async deleteOldestAccountTokens(userId: string, keep: number): Promise<number> {
    return this.prepared(`DELETE FROM account_tokens WHERE token_hash IN (
      SELECT token_hash FROM account_tokens WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)`).run(userId, keep).changes;
  }

  async acceptPolicies(userId: string, policies: AcceptedPolicy[]): Promise<void> {
    const insert = this.prepared('INSERT OR IGNORE INTO accepted_policies (user_id, policy, version) VALUES (?, ?, ?)');
    this.sql.transaction(() => { for (const p of policies) insert.run(userId, p.policy, p.version); })();
  }

  async getAcceptedPolicies(userId: string): Promise<AcceptedPolicy[]> {
    return this.prepared('SELECT policy, version FROM accepted_policies WHERE user_id = ? ORDER BY policy, version').all(userId) as AcceptedPolicy[];
  }

  async getPepperState(): Promise<PepperState | null> {
    const r = this.prepared('SELECT * FROM pepper_state WHERE id = 1').get() as Row | undefined;
    return r ? { pepper: r.pepper, altPeppers: JSON.parse(r.alt_peppers), rotatedAt: r.rotated_at, requestCount: r.request_count } : null;
  }

  async swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean> {
    const values = [next.pepper, JSON.stringify(next.altPeppers), next.rotatedAt, next.requestCount];
    if (expectedPepper === null) {
      return this.prepared('INSERT INTO pepper_state (id, pepper, alt_peppers, rotated_at, request_count) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
        .run(...values).changes > 0;
    }
    return this.prepared('UPDATE pepper_state SET pepper = ?, alt_peppers = ?, rotated_at = ?, request_count = ? WHERE id = 1 AND pepper = ?')
      .run(...values, expectedPepper).changes > 0;
  }

  async incrementPepperRequests(pepper: string): Promise<number> {
    const row = this.prepared('UPDATE pepper_state SET request_count = request_count + 1 WHERE id = 1 AND pepper = ? RETURNING request_count').get(pepper) as Row | undefined;
    return row?.request_count ?? 0;
  }

  async replaceHashes(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void> {
    const db = this.sql;
    const generation = Number(this.prepared('INSERT INTO hash_sets (pepper) VALUES (?)').run(pepper).lastInsertRowid);
    try {
      const insert = this.prepared('INSERT OR REPLACE INTO hash_entries (generation, hash, mxid) VALUES (?, ?, ?)');
      const insertBatch = db.transaction((batch: HashEntry[]) => { for (const e of batch) insert.run(generation, e.hash, e.mxid); });
      for await (const batch of entries) insertBatch(batch);
    } catch (error) {
      this.dropHashSets([generation]);
      throw error;
    }
    const previous = db.transaction(() => {
      if (!this.prepared('SELECT 1 FROM hash_sets WHERE generation = ?').get(generation)) {
        throw new Error('the new hash table was dropped by deleteHashesExcept while being written');
      }
      const old = (this.prepared('SELECT generation FROM hash_sets WHERE pepper = ? AND active = 1').all(pepper) as Row[]).map((r) => r.generation as number);
      this.prepared('UPDATE hash_sets SET active = 0 WHERE pepper = ? AND active = 1').run(pepper);
      this.prepared('UPDATE hash_sets SET active = 1 WHERE generation = ?').run(generation);
      return old;
    })();
    this.dropHashSets(previous);
  }

  private dropHashSets(generations: number[]): void {
    const db = this.sql;
    db.transaction(() => {
      for (const generation of generations) {
        this.prepared('DELETE FROM hash_entries WHERE generation = ?').run(generation);
        this.prepared('DELETE FROM hash_sets WHERE generation = ?').run(generation);
      }
    })();
  }

  async lookupHashes(pepper: string, hashes: string[]): Promise<HashEntry[]> {
    // Synchronous from first chunk to last, so no replacement can slip in between chunks.
    const active = this.prepared('SELECT generation FROM hash_sets WHERE pepper = ? AND active = 1').get(pepper) as Row | undefined;
    if (!active) return [];
    const out: HashEntry[] = [];
    for (const chunk of chunks(unique(hashes))) {
      const rows = this.prepared(`SELECT hash, mxid FROM hash_entries WHERE generation = ? AND hash IN (${placeholders(chunk.length)})`)
        .all(active.generation, ...chunk) as HashEntry[];
      out.push(...rows);
    }
    return out;
  }

  async deleteHashesExcept(peppers: string[]): Promise<void> {
    const keep = new Set(peppers);
    const stale = (this.prepared('SELECT generation, pepper FROM hash_sets').all() as Row[])
      .filter((r) => !keep.has(r.pepper)).map((r) => r.generation as number);
    this.dropHashSets(stale);
  }

  async enqueueOnbind(d: OnbindDelivery): Promise<void> {
    this.prepared('INSERT INTO onbind_queue (id, destination, body, attempts, next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(d.id, d.destination, JSON.stringify(d.body), d.attempts, d.nextAttemptAt, d.lastError, d.createdAt);
  }

  async dueOnbind(now: number, limit: number): Promise<OnbindDelivery[]> {
    if (limit <= 0) return []; // a negative LIMIT would mean no limit
    return (this.prepared('SELECT * FROM onbind_queue WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?').all(now, limit) as Row[]).map(toOnbind);
  }

  async claimOnbind(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]> {
    if (limit <= 0) return [];
    const rows = this.prepared(`UPDATE onbind_queue SET next_attempt_at = ? WHERE id IN
      (SELECT id FROM onbind_queue WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?) RETURNING *`).all(leaseUntil, now, limit) as Row[];
    return rows.map(toOnbind).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async rescheduleOnbind(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    this.prepared('UPDATE onbind_queue SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?').run(attempts, nextAttemptAt, lastError, id);
  }

  async deleteOnbind(id: string): Promise<void> {
    this.prepared('DELETE FROM onbind_queue WHERE id = ?').run(id);
  }

  async replaceThirdPartyMappings(server: string, pepper: string, hashes: string[]): Promise<void> {
    const insert = this.prepared('INSERT OR IGNORE INTO third_party_mappings (server, pepper, hash) VALUES (?, ?, ?)');
    this.sql.transaction(() => {
      this.prepared('DELETE FROM third_party_mappings WHERE server = ? AND pepper = ?').run(server, pepper);
      for (const hash of hashes) insert.run(server, pepper, hash);
    })();
  }

  async lookupThirdPartyMappings(pepper: string, hashes: string[]): Promise<Record<string, string[]>> {
    const byServer = new Map<string, string[]>();
    for (const chunk of chunks(unique(hashes))) {
      const rows = this.prepared(`SELECT server, hash FROM third_party_mappings WHERE pepper = ? AND hash IN (${placeholders(chunk.length)})`)
        .all(pepper, ...chunk) as Row[];
      for (const row of rows) {
        const owned = byServer.get(row.server);
        if (owned) owned.push(row.hash);
        else byServer.set(row.server, [row.hash]);
      }
    }
    return Object.fromEntries(byServer);
  }
}
