/**
 * Reads a sydent installation: its SQLite database (opened read-only) and its configuration
 * (INI: `[general] server.name`, `[crypto] ed25519.signingkey = ed25519 0 <base64 seed>`).
 *
 * Local binds are `local_threepid_associations`; the signed association sydent answered for each
 * is the `sgAssoc` text it pushed into `global_threepid_associations` under its own server name
 * with the local row's id as `originId`. Invite tokens and ephemeral keys carry seconds, accounts
 * milliseconds; access tokens and the lookup pepper are kept in clear.
 */
import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { decodeBase64 } from '../crypto/base64.js';
import { openReadOnly, SourceError, type ImportSource, type SourceAcceptedTerms, type SourceBind, type SourceEphemeralKey, type SourceInvite, type SourceSigningKey, type SourceToken } from './source.js';

/** `section → key → value` of an INI file as Python's configparser reads the simple cases (`=` or `:`, `#`/`;` comments). */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  let lastKey: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*([#;]|$)/.test(line)) continue;
    const header = /^\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      current = sections.get(header[1]!) ?? new Map();
      sections.set(header[1]!, current);
      lastKey = null;
      continue;
    }
    if (/^\s/.test(line) && current && lastKey) {
      current.set(lastKey, `${current.get(lastKey)}\n${line.trim()}`);
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (pair && current) {
      lastKey = pair[1]!.trim().toLowerCase();
      current.set(lastKey, pair[2]!.trim());
    }
  }
  return sections;
}

/** A Synapse-style key line, `ed25519 <version> <base64 seed>`. */
export function parseKeyLine(text: string, origin: string): SourceSigningKey {
  const match = /^ed25519\s+(\S+)\s+(\S+)$/.exec(text.trim());
  const seed = match ? decodeBase64(match[2]!) : null;
  if (!match || !seed || seed.length !== 32) throw new SourceError(`${origin} is not of the form "ed25519 <version> <base64 seed>"`);
  if (!/^[A-Za-z0-9_]+$/.test(match[1]!)) throw new SourceError(`${origin}: key version "${match[1]}" is not one unisd's key file can hold ([A-Za-z0-9_])`);
  return { version: match[1]!, seed, origin };
}

export function readSydentConfig(path: string): { serverName: string | null; signingKey: SourceSigningKey } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SourceError(`cannot read the sydent configuration ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const ini = parseIni(text);
  const line = ini.get('crypto')?.get('ed25519.signingkey');
  if (!line) throw new SourceError(`${path} has no [crypto] ed25519.signingkey: nothing to keep the homeservers' trust with`);
  return { serverName: ini.get('general')?.get('server.name') || null, signingKey: parseKeyLine(line, `${path} [crypto] ed25519.signingkey`) };
}

const hasTable = (db: Database.Database, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
const hasColumn = (db: Database.Database, table: string, column: string): boolean =>
  (db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as Array<{ name: string }>).some((c) => c.name === column);

/** Rows of a statement, a page at a time by integer id (`id > ? … LIMIT ?`), so no read stays open across awaits. */
function* pages(db: Database.Database, sql: string, params: unknown[] = [], size = 1000): Generator<any> {
  const statement = db.prepare(sql);
  let after = -1;
  for (;;) {
    const rows = statement.all(...params, after, size) as Array<{ id: number }>;
    for (const row of rows) yield row;
    if (rows.length < size) return;
    after = rows[rows.length - 1]!.id;
  }
}

function parseSigned(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

export function openSydentSource(dbPath: string, configPath: string): ImportSource {
  const { serverName, signingKey } = readSydentConfig(configPath);
  const db = openReadOnly(dbPath);
  if (!hasTable(db, 'local_threepid_associations')) {
    db.close();
    throw new SourceError(`${dbPath} is not a sydent database (no local_threepid_associations table)`);
  }
  const tables = {
    invites: hasTable(db, 'invite_tokens'), keys: hasTable(db, 'ephemeral_public_keys'), tokens: hasTable(db, 'tokens') && hasTable(db, 'accounts'),
    terms: hasTable(db, 'accepted_terms_urls'), pepper: hasTable(db, 'hashing_metadata'),
  };
  const validUntil = tables.invites && hasColumn(db, 'invite_tokens', 'valid_until_ts');

  return {
    kind: 'sydent',
    serverName,
    signingKey,
    tables: {
      binds: 'local_threepid_associations', invites: tables.invites ? 'invite_tokens' : null, ephemeralKeys: tables.keys ? 'ephemeral_public_keys' : null,
      tokens: tables.tokens ? 'tokens' : null, terms: tables.terms ? 'accepted_terms_urls' : null, pepper: tables.pepper ? 'hashing_metadata' : null,
    },

    async *binds(): AsyncIterable<SourceBind> {
      // The signed copy sydent answered: pushed under its own name, with the local id as originId.
      const sql = `SELECT l.id, l.medium, l.address, l.mxid, l.ts, l.notBefore, l.notAfter,
          (SELECT g.sgAssoc FROM global_threepid_associations g WHERE g.originServer = ? AND g.originId = l.id) AS sgAssoc
        FROM local_threepid_associations l WHERE l.id > ? ORDER BY l.id LIMIT ?`;
      const withGlobal = hasTable(db, 'global_threepid_associations');
      const query = withGlobal ? sql : sql.replace(/\(SELECT g\.sgAssoc[^)]*\)/, 'NULL');
      for (const r of pages(db, query, withGlobal ? [serverName ?? ''] : [])) {
        yield {
          table: 'local_threepid_associations', id: String(r.id), medium: String(r.medium), address: String(r.address), mxid: r.mxid ?? null,
          ts: Number(r.ts ?? 0), notBefore: Number(r.notBefore ?? 0), notAfter: Number(r.notAfter ?? 0), signed: parseSigned(r.sgAssoc),
        };
      }
    },

    async *invites(): AsyncIterable<SourceInvite> {
      if (!tables.invites) return;
      const sql = `SELECT id, medium, address, room_id, sender, token, received_ts, sent_ts${validUntil ? ', valid_until_ts' : ''}
        FROM invite_tokens WHERE id > ? ORDER BY id LIMIT ?`;
      for (const r of pages(db, sql)) {
        yield {
          table: 'invite_tokens', id: String(r.id), token: String(r.token ?? ''), medium: String(r.medium), address: String(r.address),
          roomId: String(r.room_id ?? ''), sender: String(r.sender ?? ''), fields: {},
          createdAt: r.received_ts == null ? null : Number(r.received_ts) * 1000,
          expiresAt: validUntil && r.valid_until_ts != null ? Number(r.valid_until_ts) : null,
          delivered: r.sent_ts != null,
        };
      }
    },

    async *ephemeralKeys(): AsyncIterable<SourceEphemeralKey> {
      if (!tables.keys) return;
      for (const r of pages(db, 'SELECT id, public_key, persistence_ts FROM ephemeral_public_keys WHERE id > ? ORDER BY id LIMIT ?')) {
        yield { table: 'ephemeral_public_keys', id: String(r.id), publicKey: String(r.public_key), createdAt: r.persistence_ts == null ? null : Number(r.persistence_ts) * 1000 };
      }
    },

    async *tokens(): AsyncIterable<SourceToken> {
      if (!tables.tokens) return;
      const sql = `SELECT t.rowid AS id, t.token, t.user_id, a.created_ts FROM tokens t LEFT JOIN accounts a ON a.user_id = t.user_id
        WHERE t.rowid > ? ORDER BY t.rowid LIMIT ?`;
      for (const r of pages(db, sql)) {
        yield { table: 'tokens', id: String(r.id), token: String(r.token ?? ''), userId: String(r.user_id), createdAt: Number(r.created_ts ?? 0) };
      }
    },

    async *acceptedTerms(): AsyncIterable<SourceAcceptedTerms> {
      if (!tables.terms) return;
      for (const r of pages(db, 'SELECT rowid AS id, user_id, url FROM accepted_terms_urls WHERE rowid > ? ORDER BY rowid LIMIT ?')) {
        yield { table: 'accepted_terms_urls', id: String(r.id), userId: String(r.user_id), url: String(r.url) };
      }
    },

    async pepper(): Promise<string | null> {
      if (!tables.pepper) return null;
      const row = db.prepare('SELECT lookup_pepper FROM hashing_metadata WHERE lookup_pepper IS NOT NULL LIMIT 1').get() as { lookup_pepper: string } | undefined;
      return row?.lookup_pepper ?? null;
    },

    async notImported() {
      const count = (table: string): number => (hasTable(db, table) ? (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n : 0);
      const out: Array<{ table: string; rows: number; why: string }> = [];
      const sessions = count('threepid_validation_sessions');
      if (sessions > 0) out.push({ table: 'threepid_validation_sessions', rows: sessions, why: 'validation sessions are short-lived: users validate again' });
      const foreign = hasTable(db, 'global_threepid_associations')
        ? (db.prepare('SELECT count(*) AS n FROM global_threepid_associations WHERE originServer != ?').get(serverName ?? '') as { n: number }).n : 0;
      if (foreign > 0) out.push({ table: 'global_threepid_associations', rows: foreign, why: 'replicated from peer identity servers, not bound here' });
      return out;
    },

    async close() {
      db.close();
    },
  };
}
