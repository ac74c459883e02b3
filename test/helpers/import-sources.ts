/**
 * Databases shaped like sydent's and ma1sd's (their column definitions, written from their
 * schemas: sydent's sydent/db/*.sql and sqlitedb.py migrations, ma1sd's ORMLite entities), filled
 * with what those servers would have written, and their configuration and key files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import nacl from 'tweetnacl';
import { encodeBase64 } from '../../core/crypto/base64.js';
import { signJson, signingKeyFromSeed, type SigningKey } from '../../core/crypto/signing.js';

/** sydent's tables after its schema migrations (user_version 5). */
export const SYDENT_SCHEMA = `
CREATE TABLE local_threepid_associations (id integer primary key autoincrement, medium varchar(16) not null, address varchar(256) not null,
  mxid varchar(256), ts integer, notBefore bigint, notAfter bigint, lookup_hash VARCHAR(256));
CREATE UNIQUE INDEX local_threepid_medium_address on local_threepid_associations(medium, address);
CREATE TABLE global_threepid_associations (id integer primary key autoincrement, medium varchar(16) not null, address varchar(256) not null,
  mxid varchar(256) not null, ts integer not null, notBefore bigint not null, notAfter integer not null, originServer varchar(255) not null,
  originId integer not null, sgAssoc text not null, lookup_hash VARCHAR(256));
CREATE UNIQUE INDEX global_threepid_originServer_originId on global_threepid_associations (originServer, originId);
CREATE TABLE invite_tokens (id integer primary key, medium varchar(16) not null, address varchar(256) not null, room_id varchar(256) not null,
  sender varchar(256) not null, token varchar(256) not null, received_ts bigint, sent_ts bigint);
CREATE TABLE ephemeral_public_keys (id integer primary key, public_key varchar(256) not null, verify_count bigint default 0, persistence_ts bigint);
CREATE TABLE threepid_validation_sessions (id integer primary key, medium varchar(16) not null, address varchar(256) not null,
  clientSecret varchar(32) not null, validated int default 0, mtime bigint not null);
CREATE TABLE hashing_metadata (id integer primary key, lookup_pepper varchar(256));
CREATE TABLE accounts (user_id TEXT NOT NULL PRIMARY KEY, created_ts BIGINT NOT NULL, consent_version TEXT);
CREATE TABLE tokens (token TEXT NOT NULL PRIMARY KEY, user_id TEXT NOT NULL);
CREATE TABLE accepted_terms_urls (user_id TEXT NOT NULL, url TEXT NOT NULL);
CREATE UNIQUE INDEX accepted_terms_urls_idx ON accepted_terms_urls (user_id, url);
PRAGMA user_version = 5;
`;

const LIFETIME = 100 * 365 * 24 * 60 * 60 * 1000;

export interface SydentFixture {
  dbPath: string;
  configPath: string;
  key: SigningKey;
  /** The signed association sydent answered, by local row id. */
  signed: Map<number, Record<string, unknown>>;
}

export interface SydentBindRow { medium: string; address: string; mxid: string | null; ts: number }

/** A sydent database and sydent.conf under `dir`, binds signed as sydent does (canonical JSON, ed25519, as `serverName`). */
export function sydentFixture(dir: string, serverName: string, content: {
  binds: SydentBindRow[];
  invites?: Array<{ address: string; token: string; roomId: string; sender: string; receivedSeconds: number; sentSeconds?: number }>;
  ephemeralKeys?: Array<{ publicKey: string; persistenceSeconds: number }>;
  accounts?: Array<{ userId: string; token: string; createdTs: number }>;
  acceptedUrls?: Array<{ userId: string; url: string }>;
  pepper?: string;
}): SydentFixture {
  mkdirSync(dir, { recursive: true });
  const seed = nacl.randomBytes(32);
  const key = signingKeyFromSeed(seed, '0');
  const dbPath = join(dir, 'sydent.db');
  const db = new Database(dbPath);
  db.exec(SYDENT_SCHEMA);
  const signed = new Map<number, Record<string, unknown>>();
  const local = db.prepare('INSERT INTO local_threepid_associations (medium, address, mxid, ts, notBefore, notAfter) VALUES (?, ?, ?, ?, ?, ?)');
  const global = db.prepare(`INSERT INTO global_threepid_associations (medium, address, mxid, ts, notBefore, notAfter, originServer, originId, sgAssoc)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const b of content.binds) {
    if (b.mxid === null) {
      local.run(b.medium, b.address, null, b.ts, null, null);
      continue;
    }
    const id = Number(local.run(b.medium, b.address, b.mxid, b.ts, b.ts, b.ts + LIFETIME).lastInsertRowid);
    const association = signJson({ medium: b.medium, address: b.address, mxid: b.mxid, ts: b.ts, not_before: b.ts, not_after: b.ts + LIFETIME }, serverName, key);
    signed.set(id, association);
    global.run(b.medium, b.address, b.mxid, b.ts, b.ts, b.ts + LIFETIME, serverName, id, JSON.stringify(association));
  }
  // A bind another identity server replicated here: not this server's to import.
  global.run('email', 'peer@example.net', '@peer:example.net', 1, 1, 2 + LIFETIME, 'peer.example.net', 1, '{}');
  for (const i of content.invites ?? []) {
    db.prepare('INSERT INTO invite_tokens (medium, address, room_id, sender, token, received_ts, sent_ts) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('email', i.address, i.roomId, i.sender, i.token, i.receivedSeconds, i.sentSeconds ?? null);
  }
  for (const k of content.ephemeralKeys ?? []) db.prepare('INSERT INTO ephemeral_public_keys (public_key, persistence_ts) VALUES (?, ?)').run(k.publicKey, k.persistenceSeconds);
  for (const a of content.accounts ?? []) {
    db.prepare('INSERT OR IGNORE INTO accounts (user_id, created_ts) VALUES (?, ?)').run(a.userId, a.createdTs);
    db.prepare('INSERT INTO tokens (token, user_id) VALUES (?, ?)').run(a.token, a.userId);
  }
  for (const u of content.acceptedUrls ?? []) db.prepare('INSERT INTO accepted_terms_urls (user_id, url) VALUES (?, ?)').run(u.userId, u.url);
  if (content.pepper) db.prepare('INSERT INTO hashing_metadata (id, lookup_pepper) VALUES (1, ?)').run(content.pepper);
  db.prepare("INSERT INTO threepid_validation_sessions (medium, address, clientSecret, mtime) VALUES ('email', 'x@example.org', 's', 1)").run();
  db.close();
  const configPath = join(dir, 'sydent.conf');
  writeFileSync(configPath, `[general]\nserver.name = ${serverName}\n\n[db]\ndb.file = ${dbPath}\n\n[crypto]\ned25519.signingkey = ed25519 0 ${encodeBase64(seed)}\n`);
  return { dbPath, configPath, key, signed };
}

/** ma1sd's tables as ORMLite creates them (SQLite or PostgreSQL: identifiers quoted, as it does). */
export const MA1SD_SCHEMA = `
CREATE TABLE "invite_3pid" ("id" VARCHAR(255), "token" VARCHAR(255) NOT NULL, "sender" VARCHAR(255) NOT NULL, "medium" VARCHAR(255) NOT NULL,
  "address" VARCHAR(255) NOT NULL, "roomId" VARCHAR(255) NOT NULL, "properties" VARCHAR(255), PRIMARY KEY ("id"));
CREATE TABLE "account" ("token" VARCHAR(255) NOT NULL, "accessToken" VARCHAR(255) NOT NULL, "tokenType" VARCHAR(255) NOT NULL,
  "matrixServerName" VARCHAR(255) NOT NULL, "expiresIn" BIGINT NOT NULL, "createdAt" BIGINT NOT NULL, "userId" VARCHAR(255) NOT NULL, PRIMARY KEY ("token"));
CREATE TABLE "accepted" ("url" VARCHAR(255) NOT NULL, "userId" VARCHAR(255) NOT NULL, "acceptedAt" BIGINT NOT NULL);
CREATE TABLE "hashes" ("mxid" VARCHAR(255) NOT NULL, "medium" VARCHAR(255) NOT NULL, "address" VARCHAR(255) NOT NULL, "hash" VARCHAR(255) NOT NULL, PRIMARY KEY ("mxid"));
`;

export interface Ma1sdContent {
  invites: Array<{ id: string; token: string; sender: string; address: string; roomId: string; properties: Record<string, string> }>;
  accounts: Array<{ token: string; userId: string; createdAt: number }>;
  accepted: Array<{ userId: string; url: string }>;
}

/** Each statement of MA1SD_SCHEMA and the inserts, for a database of either kind ($n parameters). */
export function ma1sdStatements(content: Ma1sdContent): Array<[string, unknown[]]> {
  const out: Array<[string, unknown[]]> = MA1SD_SCHEMA.split(';').map((s) => s.trim()).filter(Boolean).map((s) => [s, []]);
  for (const i of content.invites) {
    out.push(['INSERT INTO "invite_3pid" ("id", "token", "sender", "medium", "address", "roomId", "properties") VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [i.id, i.token, i.sender, 'email', i.address, i.roomId, JSON.stringify(i.properties)]]);
  }
  for (const a of content.accounts) {
    out.push(['INSERT INTO "account" ("token", "accessToken", "tokenType", "matrixServerName", "expiresIn", "createdAt", "userId") VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [a.token, 'openid-token', 'Bearer', a.userId.split(':').slice(1).join(':'), 3600, a.createdAt, a.userId]]);
  }
  for (const a of content.accepted) out.push(['INSERT INTO "accepted" ("url", "userId", "acceptedAt") VALUES ($1, $2, $3)', [a.url, a.userId, Date.now()]]);
  out.push(['INSERT INTO "hashes" ("mxid", "medium", "address", "hash") VALUES ($1, $2, $3, $4)', ['@cached:example.org', 'email', 'cached@example.org', 'abc']]);
  return out;
}

export function ma1sdSqlite(path: string, content: Ma1sdContent): void {
  const db = new Database(path);
  for (const [sql, params] of ma1sdStatements(content)) db.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
  db.close();
}

/** ma1sd's key store directory (`key.path`) and ma1sd.yaml under `dir`. */
export function ma1sdConfig(dir: string, serverName: string, serial: string): { configPath: string; key: SigningKey } {
  const seed = nacl.randomBytes(32);
  const keys = join(dir, 'keys');
  mkdirSync(join(keys, 'regular', 'ed25519'), { recursive: true });
  writeFileSync(join(keys, 'current'), JSON.stringify({ type: 'Regular', algo: 'ed25519', serial }));
  writeFileSync(join(keys, 'regular', 'ed25519', serial), JSON.stringify({ version: '0', isValid: true, key: encodeBase64(seed) }));
  const configPath = join(dir, 'ma1sd.yaml');
  writeFileSync(configPath, `matrix:\n  domain: ${serverName}\nkey:\n  path: keys\nstorage:\n  backend: sqlite\n`);
  return { configPath, key: signingKeyFromSeed(seed, serial) };
}
