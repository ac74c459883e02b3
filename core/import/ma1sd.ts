/**
 * Reads a ma1sd installation: its database (SQLite file opened read-only, or PostgreSQL read in
 * one READ ONLY transaction), tables as its ORMLite entities create them (column names are the
 * Java field names: "roomId", "userId"…), and its key store (`key.path`: a directory holding
 * `current` and `regular/ed25519/<serial>` JSON files, or the older single file with the base64
 * seed). ma1sd keeps no binds of its own (its mappings come from its identity stores, which unisd
 * reads through its providers) and no lookup pepper (it lives in memory): its `hashes` table is a
 * cache of those stores, reported and not imported.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import type Database from 'better-sqlite3';
import { decodeBase64 } from '../crypto/base64.js';
import { openReadOnly, SourceError, type ImportSource, type SourceAcceptedTerms, type SourceInvite, type SourceSigningKey, type SourceToken } from './source.js';
import { displayFields } from '../../plugins/invites/service.js';

/** A query runner over either database: rows of a parameterised statement ($1… for both). */
interface Reader {
  all(sql: string, params: unknown[]): Promise<any[]>;
  hasTable(name: string): Promise<boolean>;
  close(): Promise<void>;
}

function sqliteReader(db: Database.Database): Reader {
  return {
    all: async (sql, params) => db.prepare(sql.replace(/\$\d+/g, '?')).all(...params),
    hasTable: async (name) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined,
    close: async () => { db.close(); },
  };
}

async function postgresReader(uri: string): Promise<Reader> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: uri });
  try {
    await client.connect();
    // One snapshot for the whole read, and the server refuses any write in it.
    await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
  } catch (err) {
    await client.end().catch(() => {});
    throw new SourceError(`cannot read the ma1sd PostgreSQL database: ${(err as Error).message}`);
  }
  return {
    all: async (sql, params) => (await client.query(sql, params)).rows,
    hasTable: async (name) => (await client.query('SELECT 1 FROM information_schema.tables WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))', [name])).rowCount! > 0,
    close: async () => {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    },
  };
}

/** ma1sd's configuration: what the import needs from it. */
export function readMa1sdConfig(path: string): { serverName: string | null; keyPath: string } {
  let config: any;
  try {
    config = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    throw new SourceError(`cannot read the ma1sd configuration ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const keyPath = config?.key?.path;
  if (typeof keyPath !== 'string' || keyPath === '') throw new SourceError(`${path} has no key.path: nothing to keep the homeservers' trust with`);
  const serverName = config?.server?.name ?? config?.matrix?.domain ?? null;
  // ma1sd resolves it from its working directory; the configuration's directory is the usual one.
  return { serverName: typeof serverName === 'string' ? serverName : null, keyPath: isAbsolute(keyPath) ? keyPath : resolve(dirname(path), keyPath) };
}

/** The current signing key of a ma1sd key store (directory format, or the older single file). */
export function readMa1sdKey(path: string): SourceSigningKey {
  if (!existsSync(path)) throw new SourceError(`ma1sd key store ${path} does not exist`);
  const seedOf = (text: string, origin: string): Uint8Array => {
    const seed = decodeBase64(text.trim());
    if (!seed || seed.length !== 32) throw new SourceError(`${origin} does not hold a base64 ed25519 seed`);
    return seed;
  };
  if (statSync(path).isFile()) return { version: '0', seed: seedOf(readFileSync(path, 'utf8'), path), origin: path };
  const readJson = (file: string): any => {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new SourceError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const current = readJson(join(path, 'current'));
  const serial = String(current?.serial ?? '');
  if (current?.algo !== 'ed25519' || !/^[A-Za-z0-9_]+$/.test(serial)) {
    throw new SourceError(`${join(path, 'current')}: expected an ed25519 key whose serial unisd's key file can hold ([A-Za-z0-9_]), got ${JSON.stringify(current)}`);
  }
  const file = join(path, String(current.type ?? 'Regular').toLowerCase(), 'ed25519', serial);
  const key = readJson(file);
  return { version: serial, seed: seedOf(String(key?.key ?? ''), file), origin: file };
}

/** Milliseconds from a ma1sd timestamp (seconds or milliseconds, depending on the version). */
const millis = (value: unknown): number => {
  const n = Number(value ?? 0);
  return n > 0 && n < 1e11 ? n * 1000 : n;
};

export async function openMa1sdSource(db: string, configPath: string): Promise<ImportSource> {
  const { serverName, keyPath } = readMa1sdConfig(configPath);
  const signingKey = readMa1sdKey(keyPath);
  const reader = /^postgres(ql)?:\/\//.test(db) ? await postgresReader(db) : sqliteReader(openReadOnly(db));
  const present = {
    invites: await reader.hasTable('invite_3pid'), account: await reader.hasTable('account'),
    accepted: await reader.hasTable('accepted'), hashes: await reader.hasTable('hashes'), sessions: await reader.hasTable('session_3pid'),
  };
  if (!present.invites && !present.account) {
    await reader.close();
    throw new SourceError(`${/^postgres/.test(db) ? 'the PostgreSQL database' : db} is not a ma1sd database (no invite_3pid or account table)`);
  }

  /** Keyset pages over a text key. */
  async function* pages(sql: string, key: (row: any) => string[], first: string[]): AsyncIterable<any> {
    let after = first;
    for (;;) {
      const rows = await reader.all(sql, [...after, 1000]);
      for (const row of rows) yield row;
      if (rows.length < 1000) return;
      after = key(rows[rows.length - 1]);
    }
  }

  return {
    kind: 'ma1sd',
    serverName,
    signingKey,
    tables: { binds: null, invites: present.invites ? 'invite_3pid' : null, ephemeralKeys: null, tokens: present.account ? 'account' : null, terms: present.accepted ? 'accepted' : null, pepper: null },

    async *binds() {},

    async *invites(): AsyncIterable<SourceInvite> {
      if (!present.invites) return;
      const sql = 'SELECT "id", "token", "sender", "medium", "address", "roomId", "properties" FROM "invite_3pid" WHERE "id" > $1 ORDER BY "id" LIMIT $2';
      for await (const r of pages(sql, (row) => [String(row.id)], [''])) {
        let fields: Record<string, unknown> = {};
        try {
          const parsed = r.properties ? JSON.parse(r.properties) : {};
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed;
        } catch { /* properties unreadable: the invite goes without its display fields */ }
        yield {
          table: 'invite_3pid', id: String(r.id), token: String(r.token ?? ''), medium: String(r.medium ?? ''), address: String(r.address ?? ''),
          roomId: String(r.roomId ?? ''), sender: String(r.sender ?? ''), fields: displayFields(fields), createdAt: null, expiresAt: null, delivered: false,
        };
      }
    },

    async *ephemeralKeys() {},

    async *tokens(): AsyncIterable<SourceToken> {
      if (!present.account) return;
      const sql = 'SELECT "token", "userId", "createdAt" FROM "account" WHERE "token" > $1 ORDER BY "token" LIMIT $2';
      // Named by position, not by token: the report never shows a secret.
      let position = 0;
      for await (const r of pages(sql, (row) => [String(row.token)], [''])) {
        yield { table: 'account', id: `#${++position}`, token: String(r.token ?? ''), userId: String(r.userId ?? ''), createdAt: millis(r.createdAt) };
      }
    },

    async *acceptedTerms(): AsyncIterable<SourceAcceptedTerms> {
      if (!present.accepted) return;
      const sql = 'SELECT "userId", "url" FROM "accepted" WHERE ("userId", "url") > ($1, $2) ORDER BY "userId", "url" LIMIT $3';
      let position = 0;
      for await (const r of pages(sql, (row) => [String(row.userId), String(row.url)], ['', ''])) {
        yield { table: 'accepted', id: `#${++position}`, userId: String(r.userId ?? ''), url: String(r.url ?? '') };
      }
    },

    async pepper() {
      return null;
    },

    async notImported() {
      const out: Array<{ table: string; rows: number; why: string }> = [];
      const count = async (table: string): Promise<number> => Number((await reader.all(`SELECT count(*) AS n FROM "${table}"`, []))[0].n);
      if (present.hashes) out.push({ table: 'hashes', rows: await count('hashes'), why: "a cache of ma1sd's identity stores: unisd hashes what its providers answer" });
      if (present.sessions) out.push({ table: 'session_3pid', rows: await count('session_3pid'), why: 'validation sessions are short-lived: users validate again' });
      return out;
    },

    close: () => reader.close(),
  };
}
