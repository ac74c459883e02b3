/**
 * `unisd import`: brings an old identity server's data into unisd's storage, through the
 * storage ports only, so into any backend. Three steps: read the source into the staging file
 * (validated, normalised the unisd way, newest bind of a 3PID kept), compare every staged entry
 * with the store (new, unchanged, conflicting), then — unless it is a dry run, or there are
 * conflicts and no --overwrite — write what is new. Nothing is written before everything is
 * checked; a second run finds everything unchanged and writes nothing.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/load.js';
import type { Association, PendingInvite, Store } from '../store/port.js';
import { normaliseEmail, normaliseMsisdn } from '../threepid.js';
import { userIdServerName } from '../federation/server-name.js';
import { hashSecret } from '../crypto/tokens.js';
import { canonicalJson } from '../crypto/canonical-json.js';
import { encodeBase64 } from '../crypto/base64.js';
import { signJson, signingKeyFromSeed } from '../crypto/signing.js';
import type { ImportSource, RowRef } from './source.js';
import { Staging, type Status } from './staging.js';

export interface ImportOptions {
  dryRun: boolean;
  overwrite: boolean;
  /** The report (stdout). */
  out: (line: string) => void;
  /** Progress of large tables (stderr). */
  progress: (line: string) => void;
  /** Rows between two progress lines. */
  progressEvery?: number;
  now?: number;
}

export interface AreaCounts {
  read: number;
  skipped: number;
  new: number;
  unchanged: number;
  conflict: number;
}

export interface ImportResult {
  areas: Record<string, AreaCounts>;
  conflicts: number;
  written: boolean;
}

/** The sydent/ma1sd association lifetime, used when a bind row has no validity of its own. */
const ASSOCIATION_LIFETIME = 100 * 365 * 24 * 60 * 60 * 1000;
/** Entries compared with, and written to, the store per round trip. */
const PAGE = 500;

type StagedBind = Association & { ref: string };
type StagedInvite = PendingInvite & { ref: string };
interface StagedToken { ref: string; tokenHash: string; userId: string; createdAt: number }
interface StagedKey { ref: string; publicKey: string; expiresAt: number }
interface StagedTerms { ref: string; userId: string; policy: string; version: string }

const refText = (ref: RowRef): string => `${ref.table} id ${ref.id}`;
const isMatrixId = (mxid: unknown): mxid is string => typeof mxid === 'string' && /^@[^:\s]+:\S+$/.test(mxid) && userIdServerName(mxid) !== null;

export async function runImport(source: ImportSource, store: Store, config: Config, options: ImportOptions): Promise<ImportResult> {
  const now = options.now ?? Date.now();
  const { out } = options;
  const areas: Record<string, AreaCounts> = {};
  const area = (name: string): AreaCounts => (areas[name] ??= { read: 0, skipped: 0, new: 0, unchanged: 0, conflict: 0 });
  const skip: Skip = (name, ref, why) => {
    area(name).skipped++;
    out(`  skipped ${ref}: ${why}`);
  };
  const every = options.progressEvery ?? 100_000;
  const counted = (name: string): void => {
    const read = ++area(name).read;
    if (read % every === 0) options.progress(`unisd import: ${name}: ${read} rows read`);
  };

  if (source.serverName && source.serverName !== config.server.name) {
    out(`warning: ${source.kind} signed as "${source.serverName}" but server.name is "${config.server.name}": ` +
      `associations and invites signed from now on name "${config.server.name}"; keep "${source.serverName}" unless homeservers were told otherwise`);
  }

  const staging = new Staging();
  try {
    // 1. Read and stage.
    await stageBinds(source, staging, skip, counted, now);
    await stageInvites(source, staging, config, skip, counted, now);
    await stageEphemeralKeys(source, staging, config, skip, counted, now);
    await stageTokens(source, staging, skip, counted);
    await stageTerms(source, staging, config, skip, counted);

    // 2. Compare with the store.
    await classifyBinds(staging, store);
    await classifyItems<StagedInvite>(staging, 'invites', async (page) => {
      const marks = [];
      for (const invite of page) {
        const existing = await store.invites.get(invite.token);
        const same = existing && existing.medium === invite.medium && existing.address === invite.address && existing.roomId === invite.roomId && existing.sender === invite.sender;
        marks.push({ key: invite.key, status: (existing ? (same ? 'unchanged' : 'conflict') : 'new') as Status });
      }
      return marks;
    });
    await classifyItems<StagedKey>(staging, 'ephemeral keys', async (page) => Promise.all(page.map(async (key) =>
      ({ key: key.key, status: (await store.invites.isEphemeralKeyValid(key.publicKey, now) ? 'unchanged' : 'new') as Status }))));
    await classifyItems<StagedToken>(staging, 'tokens', async (page) => Promise.all(page.map(async (token) => {
      const existing = await store.accounts.get(token.tokenHash);
      return { key: token.key, status: (existing ? (existing.userId === token.userId ? 'unchanged' : 'conflict') : 'new') as Status };
    })));
    await classifyItems<StagedTerms>(staging, 'terms', async (page) => Promise.all(page.map(async (terms) => {
      const accepted = await store.terms.accepted(terms.userId);
      return { key: terms.key, status: (accepted.some((a) => a.policy === terms.policy && a.version === terms.version) ? 'unchanged' : 'new') as Status };
    })));
    for (const name of ['binds', 'invites', 'ephemeral keys', 'tokens', 'terms']) Object.assign(area(name), staging.counts(name));

    const pepper = await classifyPepper(source, store, area('pepper'));
    const key = classifySigningKey(source, config, area('signing key'));

    // 3. Report, then write (or not).
    const conflicts = Object.values(areas).reduce((sum, counts) => sum + counts.conflict, 0);
    for (const ref of staging.conflictingBindRefs()) out(`  conflict ${ref}: the store binds this 3PID differently`);
    if (area('pepper').conflict > 0) out('  conflict pepper: the store has another current lookup pepper');
    if (area('signing key').conflict > 0) out(`  conflict signing key: ${config.keys.path} (keys.path) holds another key`);
    for (const [name, counts] of Object.entries(areas)) {
      const table = tableOf(source, name);
      out(`${name}${table ? ` (${table})` : ''}: ${counts.read} read, ${counts.new} ${options.dryRun ? 'to import' : 'new'}, ` +
        `${counts.unchanged} already there, ${counts.conflict} conflicting, ${counts.skipped} skipped`);
    }
    for (const { table, rows, why } of await source.notImported()) out(`${table}: ${rows} rows not imported: ${why}`);

    const blocked = conflicts > 0 && !options.overwrite;
    if (options.dryRun || blocked) return { areas, conflicts, written: false };

    if (key) writeSigningKey(key.path, key.text);
    if (pepper) {
      const current = await store.peppers.getPepperState();
      await store.peppers.swapPepperState(current?.pepper ?? null, { pepper, altPeppers: [], rotatedAt: now, requestCount: 0 });
    }
    let written = 0;
    for (const page of staging.bindPages<StagedBind>(PAGE)) {
      const todo = page.filter((b) => b.status === 'new' || b.status === 'conflict');
      await store.binds.putMany(todo.map(({ ref: _ref, status: _status, ...bind }) => bind));
      written += todo.length;
      if (written > 0 && written % every < todo.length) options.progress(`unisd import: binds: ${written} written`);
    }
    await writeItems<StagedInvite>(staging, 'invites', async ({ ref: _ref, key: _key, status, ...invite }) => {
      if (status === 'conflict') await store.invites.delete(invite.token);
      await store.invites.put(invite);
    });
    await writeItems<StagedKey>(staging, 'ephemeral keys', (k) => store.invites.putEphemeralKey(k.publicKey, k.expiresAt));
    await writeItems<StagedToken>(staging, 'tokens', (t) => store.accounts.put({ tokenHash: t.tokenHash, userId: t.userId, createdAt: t.createdAt, expiresAt: null }));
    await writeItems<StagedTerms>(staging, 'terms', (t) => store.terms.accept(t.userId, [{ policy: t.policy, version: t.version }]));
    return { areas, conflicts, written: true };
  } finally {
    staging.close();
  }
}

function tableOf(source: ImportSource, name: string): string | null {
  const tables: Record<string, string | null> = {
    binds: source.tables.binds, invites: source.tables.invites, 'ephemeral keys': source.tables.ephemeralKeys,
    tokens: source.tables.tokens, terms: source.tables.terms, pepper: source.tables.pepper, 'signing key': source.signingKey?.origin ?? null,
  };
  return tables[name] ?? null;
}

/** The address normalised the unisd way, or why it cannot be. */
function normalise(medium: string, address: string): { address: string } | { why: string } {
  if (medium === 'email') {
    const email = normaliseEmail(address);
    return email ? { address: email } : { why: 'malformed address (email)' };
  }
  if (medium === 'msisdn') {
    const msisdn = normaliseMsisdn(address);
    return msisdn ? { address: msisdn } : { why: 'malformed address (msisdn)' };
  }
  return { why: `unknown medium "${medium.slice(0, 32)}"` };
}

/** Counts and reports a row left out; `ref` names its table and id, never its 3PID. */
type Skip = (name: string, ref: string, why: string) => void;

/** Staging writes queued and run PAGE at a time, each page in one transaction; `flush` runs the rest. */
function pagedStaging(staging: Staging): { add(write: () => void): void; flush(): void } {
  const pending: Array<() => void> = [];
  const flush = (): void => {
    staging.batch(() => { for (const write of pending) write(); });
    pending.length = 0;
  };
  return { add(write) { pending.push(write); if (pending.length >= PAGE) flush(); }, flush };
}

async function stageBinds(source: ImportSource, staging: Staging, skip: Skip, counted: (n: string) => void, now: number): Promise<void> {
  const key = source.signingKey ? signingKeyFromSeed(source.signingKey.seed, source.signingKey.version) : null;
  const paged = pagedStaging(staging);
  for await (const row of source.binds()) {
    counted('binds');
    if (row.mxid === null) { skip('binds', refText(row), 'removed in the source (an unbind marker)'); continue; }
    if (!isMatrixId(row.mxid)) { skip('binds', refText(row), 'malformed Matrix ID'); continue; }
    const normalised = normalise(row.medium, row.address);
    if ('why' in normalised) { skip('binds', refText(row), normalised.why); continue; }
    const notBefore = row.notBefore || row.ts;
    const notAfter = row.notAfter || row.ts + ASSOCIATION_LIFETIME;
    if (notAfter <= now) { skip('binds', refText(row), 'expired (not_after is past)'); continue; }
    let signed = row.signed;
    if (!signed && key && source.serverName) {
      // The source kept no signed copy: sign what it holds with its own key, as it would have.
      signed = signJson({ medium: row.medium, address: row.address, mxid: row.mxid, ts: row.ts, not_before: notBefore, not_after: notAfter }, source.serverName, key);
    }
    if (!signed) { skip('binds', refText(row), 'no signed association and no signing key to sign one'); continue; }
    const bind: StagedBind = { medium: row.medium, address: normalised.address, mxid: row.mxid, ts: row.ts, notBefore, notAfter, signed, ref: refText(row) };
    paged.add(() => {
      const loser = staging.stageBind(bind.medium, bind.address, bind.ts, bind.ref, bind);
      if (loser === bind.ref) skip('binds', loser, `duplicate 3PID (${bind.medium}): a newer bind of it is kept`);
      else if (loser !== null) skip('binds', loser, `duplicate 3PID (${bind.medium}): ${bind.ref} is newer and kept`);
    });
  }
  paged.flush();
}

async function stageInvites(source: ImportSource, staging: Staging, config: Config, skip: Skip, counted: (n: string) => void, now: number): Promise<void> {
  const lifetime = config.invites.lifetime;
  const paged = pagedStaging(staging);
  for await (const row of source.invites()) {
    counted('invites');
    if (row.medium !== 'email') { skip('invites', refText(row), `unknown medium "${row.medium.slice(0, 32)}" (invites are to email addresses)`); continue; }
    const address = normaliseEmail(row.address);
    if (!address) { skip('invites', refText(row), 'malformed address (email)'); continue; }
    if (!isMatrixId(row.sender)) { skip('invites', refText(row), 'malformed sender Matrix ID'); continue; }
    if (!row.token || !row.roomId) { skip('invites', refText(row), 'no token or room'); continue; }
    const createdAt = row.createdAt ?? now;
    const expiresAt = row.expiresAt ?? createdAt + lifetime;
    if (expiresAt <= now) { skip('invites', refText(row), 'expired'); continue; }
    const invite: StagedInvite = {
      ref: refText(row), token: row.token, medium: 'email', address, roomId: row.roomId, sender: row.sender, fields: row.fields,
      // Neither server links an invite to its ephemeral key; nothing in unisd reads it back.
      ephemeralPublicKey: '', createdAt, expiresAt, deliveredAt: row.delivered ? createdAt : null,
    };
    paged.add(() => { if (!staging.stageItem('invites', invite.token, invite)) skip('invites', invite.ref, 'duplicate token'); });
  }
  paged.flush();
}

async function stageEphemeralKeys(source: ImportSource, staging: Staging, config: Config, skip: Skip, counted: (n: string) => void, now: number): Promise<void> {
  const lifetime = config.invites.lifetime;
  const paged = pagedStaging(staging);
  for await (const row of source.ephemeralKeys()) {
    counted('ephemeral keys');
    const bytes = Buffer.from(row.publicKey.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length !== 32) { skip('ephemeral keys', refText(row), 'not an ed25519 public key'); continue; }
    const expiresAt = (row.createdAt ?? now) + lifetime;
    if (expiresAt <= now) { skip('ephemeral keys', refText(row), 'expired'); continue; }
    const key: StagedKey = { ref: refText(row), publicKey: encodeBase64(bytes), expiresAt };
    paged.add(() => staging.stageItem('ephemeral keys', key.publicKey, key));
  }
  paged.flush();
}

async function stageTokens(source: ImportSource, staging: Staging, skip: Skip, counted: (n: string) => void): Promise<void> {
  const paged = pagedStaging(staging);
  for await (const row of source.tokens()) {
    counted('tokens');
    if (!isMatrixId(row.userId)) { skip('tokens', refText(row), 'malformed Matrix ID'); continue; }
    if (!row.token) { skip('tokens', refText(row), 'empty token'); continue; }
    const token: StagedToken = { ref: refText(row), tokenHash: hashSecret(row.token), userId: row.userId, createdAt: row.createdAt };
    paged.add(() => staging.stageItem('tokens', token.tokenHash, token));
  }
  paged.flush();
}

async function stageTerms(source: ImportSource, staging: Staging, config: Config, skip: Skip, counted: (n: string) => void): Promise<void> {
  // Policy of each configured URL, every language: accepting one language accepted the policy.
  const byUrl = new Map<string, { policy: string; version: string }>();
  for (const [policy, { version, terms }] of Object.entries(config.policy.policies)) {
    for (const { url } of Object.values(terms)) byUrl.set(url, { policy, version: String(version) });
  }
  const paged = pagedStaging(staging);
  for await (const row of source.acceptedTerms()) {
    counted('terms');
    const policy = byUrl.get(row.url);
    if (!policy) { skip('terms', refText(row), 'no policy of policy.policies has this URL'); continue; }
    if (!isMatrixId(row.userId)) { skip('terms', refText(row), 'malformed Matrix ID'); continue; }
    const terms: StagedTerms = { ref: refText(row), userId: row.userId, ...policy };
    paged.add(() => staging.stageItem('terms', JSON.stringify([terms.userId, terms.policy, terms.version]), terms));
  }
  paged.flush();
}

const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a as Record<string, unknown>) === canonicalJson(b as Record<string, unknown>);

async function classifyBinds(staging: Staging, store: Store): Promise<void> {
  for (const page of staging.bindPages<StagedBind>(PAGE)) {
    const existing = new Map((await store.binds.getMany(page)).map((a) => [`${a.medium} ${a.address}`, a]));
    staging.markBinds(page.map((bind) => {
      const there = existing.get(`${bind.medium} ${bind.address}`);
      const same = there && there.mxid === bind.mxid && there.ts === bind.ts && there.notBefore === bind.notBefore && there.notAfter === bind.notAfter && sameJson(there.signed, bind.signed);
      return { medium: bind.medium, address: bind.address, status: there ? (same ? 'unchanged' : 'conflict') : 'new' };
    }));
  }
}

async function classifyItems<T>(staging: Staging, area: string, classify: (page: Array<T & { key: string }>) => Promise<Array<{ key: string; status: Status }>>): Promise<void> {
  for (const page of staging.itemPages<T>(area, PAGE)) staging.markItems(area, await classify(page));
}

async function writeItems<T>(staging: Staging, area: string, write: (item: T & { key: string; status: Status | null }) => Promise<void>): Promise<void> {
  for (const page of staging.itemPages<T>(area, PAGE)) {
    await Promise.all(page.filter((item) => item.status === 'new' || item.status === 'conflict').map(write));
  }
}

async function classifyPepper(source: ImportSource, store: Store, counts: AreaCounts): Promise<string | null> {
  const pepper = await source.pepper();
  if (pepper === null) return null;
  counts.read = 1;
  const current = await store.peppers.getPepperState();
  if (current?.pepper === pepper) { counts.unchanged = 1; return null; }
  if (current) counts.conflict = 1;
  else counts.new = 1;
  return pepper;
}

/** The key file to write (null: nothing to write), as core/crypto/key-file.ts reads it. */
function classifySigningKey(source: ImportSource, config: Config, counts: AreaCounts): { path: string; text: string } | null {
  const key = source.signingKey;
  if (!key) return null;
  counts.read = 1;
  const text = `ed25519 ${key.version} ${encodeBase64(key.seed)}\n`;
  const path = config.keys.path;
  if (!existsSync(path)) { counts.new = 1; return { path, text }; }
  if (readFileSync(path, 'utf8').trim() === text.trim()) { counts.unchanged = 1; return null; }
  counts.conflict = 1;
  return { path, text };
}

/** Written beside, then renamed over: a crash never leaves half a key. */
function writeSigningKey(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.import-${process.pid}`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'w' });
  renameSync(temporary, path);
}
