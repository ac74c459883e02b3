/**
 * `unisd import`: a sydent-shaped and a ma1sd-shaped database (SQLite, and PostgreSQL with
 * UNISD_TEST_POSTGRES_URI) imported into a unisd store, then shown through the HTTP API of an
 * app built on that store and key file, as `unisd start` builds it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../core/app.js';
import type { Config } from '../core/config/load.js';
import { openStore } from '../core/store/index.js';
import { runImport, type ImportResult } from '../core/import/importer.js';
import { importStorage, openSource } from '../core/import/command.js';
import { verifyJsonSignature, generateSigningKey } from '../core/crypto/signing.js';
import { hashSecret } from '../core/crypto/tokens.js';
import { testConfig } from './helpers/app.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { startFakeHomeserver, federationConfig, type FakeHomeserver } from './helpers/fake-homeserver.js';
import { validatedEmailSession } from './helpers/sessions.js';
import { ma1sdConfig, ma1sdSqlite, ma1sdStatements, sydentFixture, type Ma1sdContent, type SydentFixture } from './helpers/import-sources.js';

const V1 = '/_matrix/identity/api/v1';
const V2 = '/_matrix/identity/v2';
const SERVER = 'id.example.test';
const PRIVACY_URL = 'https://id.example.test/terms/privacy-en.html';

let smtp: TestSmtpServer;
let hs: FakeHomeserver;
let work: string;
before(async () => {
  smtp = await new TestSmtpServer().start();
  hs = await startFakeHomeserver();
  work = mkdtempSync(join(tmpdir(), 'unisd-import-test-'));
});
after(async () => {
  await smtp.stop();
  await hs.close();
  rmSync(work, { recursive: true, force: true });
});

let dirs = 0;
/**
 * A unisd configuration with its own SQLite file and key file, terms guarding /account, and a
 * rotation period longer than a test (the imported pepper stays current throughout).
 */
function unisdConfig(overrides: Record<string, unknown> = {}): Config {
  const dir = join(work, `unisd-${++dirs}`);
  return testConfig({
    server: { name: SERVER },
    storage: { sqlite: { path: join(dir, 'unisd.db') } },
    keys: { path: join(dir, 'signing.key') },
    email: { smtp: smtp.smtpConfig() },
    federation: federationConfig,
    policy: { policies: { privacy: { version: '1.0', terms: { en: { name: 'Privacy', url: PRIVACY_URL } }, regexp: [`${V2}/account`] } } },
    ...overrides,
    hashing: { delay: '1d', ...(overrides.hashing as object | undefined) },
  });
}

async function importInto(config: Config, from: 'sydent' | 'ma1sd', db: string, sourceConfig: string, flags: { dryRun?: boolean; overwrite?: boolean } = {}) {
  const lines: string[] = [];
  const source = await openSource(from, db, sourceConfig);
  const store = await openStore(importStorage(config.storage));
  try {
    const result = await runImport(source, store, config, { dryRun: false, overwrite: false, ...flags, out: (l) => lines.push(l), progress: () => {} });
    return { result, lines };
  } finally {
    await store.close();
    await source.close();
  }
}

const serve = async (config: Config): Promise<FastifyInstance> => {
  const app = await buildApp(config, { logger: false });
  await app.ready();
  return app;
};
const fileHash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function sydent(name: string): SydentFixture {
  const now = Date.now();
  const hour = 3600_000;
  return sydentFixture(join(work, name), SERVER, {
    binds: [
      { medium: 'email', address: 'Alice@Example.ORG', mxid: '@alice:example.org', ts: now - 10 * hour }, // id 1: stored before sydent case-folded
      { medium: 'email', address: 'bob@example.org', mxid: '@bob:example.org', ts: now - 9 * hour }, //       id 2: older bind of bob…
      { medium: 'email', address: 'BOB@example.org', mxid: '@robert:example.org', ts: now - 8 * hour }, //   id 3: …the newest wins
      { medium: 'msisdn', address: '447700900001', mxid: '@carol:example.org', ts: now - 7 * hour }, //       id 4
      { medium: 'email', address: 'not an address', mxid: '@mallory:example.org', ts: now - 6 * hour }, //    id 5: malformed
      { medium: 'fax', address: '+15551234', mxid: '@fax:example.org', ts: now - 5 * hour }, //               id 6: unknown medium
      { medium: 'email', address: 'gone@example.org', mxid: null, ts: now - 4 * hour }, //                     id 7: unbound
    ],
    invites: [
      { address: 'Dave@Example.org', token: 'invite-token-dave', roomId: '!room:example.org', sender: '@alice:example.org', receivedSeconds: Math.floor((now - hour) / 1000) },
      { address: 'old@example.org', token: 'invite-token-old', roomId: '!room:example.org', sender: '@alice:example.org', receivedSeconds: Math.floor((now - 30 * 24 * hour) / 1000) },
    ],
    ephemeralKeys: [{ publicKey: generateSigningKey().publicKeyBase64, persistenceSeconds: Math.floor((now - hour) / 1000) }],
    accounts: [
      { userId: '@alice:example.org', token: 'sydent-token-alice', createdTs: now - 20 * hour },
      { userId: '@erin:example.org', token: 'sydent-token-erin', createdTs: now - 20 * hour },
    ],
    acceptedUrls: [{ userId: '@alice:example.org', url: PRIVACY_URL }, { userId: '@erin:example.org', url: 'https://elsewhere.example/terms.html' }],
    pepper: 'sydentPepper0123',
  });
}

test('sydent: v1 lookups answer the association sydent signed, verifying with the imported key; the newest of a duplicate wins', async (t) => {
  const fixture = sydent('sydent-lookups');
  const config = unisdConfig();
  const before = fileHash(fixture.dbPath);
  const { result } = await importInto(config, 'sydent', fixture.dbPath, fixture.configPath);
  assert.equal(fileHash(fixture.dbPath), before, 'the sydent database is untouched');
  assert.deepEqual(result.areas.binds, { read: 7, skipped: 4, new: 3, unchanged: 0, conflict: 0 });

  const app = await serve(config);
  t.after(() => app.close());
  const pubkey = (await app.inject({ method: 'GET', url: `${V2}/pubkey/ed25519:0` })).json();
  assert.equal(pubkey.public_key, fixture.key.publicKeyBase64, 'GET /pubkey/ed25519:0 serves sydent\'s key');

  const alice = (await app.inject({ method: 'GET', url: `${V1}/lookup?medium=email&address=ALICE@example.org` })).json();
  assert.deepEqual(alice, fixture.signed.get(1)!);
  assert.ok(verifyJsonSignature(alice, SERVER, 'ed25519:0', fixture.key.publicKey));
  const bob = (await app.inject({ method: 'GET', url: `${V1}/lookup?medium=email&address=bob@example.org` })).json();
  assert.deepEqual(bob, fixture.signed.get(3));
  const carol = (await app.inject({ method: 'GET', url: `${V1}/lookup?medium=msisdn&address=447700900001` })).json();
  assert.equal(carol.mxid, '@carol:example.org');
  assert.deepEqual((await app.inject({ method: 'GET', url: `${V1}/lookup?medium=email&address=gone@example.org` })).json(), {});
  // The pepper clients hold keeps working: it is the current one.
  assert.equal((await app.store.peppers.getPepperState())?.pepper, 'sydentPepper0123');
});

/** The spec's lookup hash (identity-service-api, "Client behaviour"), computed here rather than by unisd's own code. */
const specHash = (address: string, medium: string, pepper: string): string =>
  createHash('sha256').update(`${address} ${medium} ${pepper}`).digest('base64url');

for (const hashStorageType of ['in_memory', 'sql']) {
  test(`sydent (${hashStorageType} hash tables): hashed lookup with the pepper sydent's clients hold finds every imported bind`, async (t) => {
    const fixture = sydent(`sydent-hashed-${hashStorageType}`);
    const config = unisdConfig({ hashing: { hashStorageType } });
    await importInto(config, 'sydent', fixture.dbPath, fixture.configPath);
    const app = await serve(config);
    t.after(() => app.close());
    await app.hashLookup?.rotation.ready;

    const details = await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: bearer('sydent-token-alice') });
    assert.equal(details.statusCode, 200, details.body);
    assert.equal(details.json().lookup_pepper, 'sydentPepper0123', 'the pepper of sydent\'s hashing_metadata');
    assert.ok(details.json().algorithms.includes('sha256'));

    // Every bind the fixture should have brought across, as a client would hash it (case-folded email, msisdn digits).
    const imported: Array<[address: string, medium: string, mxid: string]> = [
      ['alice@example.org', 'email', '@alice:example.org'],
      ['bob@example.org', 'email', '@robert:example.org'],
      ['447700900001', 'msisdn', '@carol:example.org'],
    ];
    let stored = 0;
    for await (const _bind of app.store.binds.stream()) stored++;
    assert.equal(stored, imported.length, 'the list above is every bind the store holds');

    const pepper = details.json().lookup_pepper as string;
    const absent = specHash('gone@example.org', 'email', pepper);
    const res = await app.inject({
      method: 'POST', url: `${V2}/lookup`, headers: bearer('sydent-token-alice'),
      payload: { algorithm: 'sha256', pepper, addresses: [...imported.map(([address, medium]) => specHash(address, medium, pepper)), absent] },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { mappings: Object.fromEntries(imported.map(([address, medium, mxid]) => [specHash(address, medium, pepper), mxid])) });
  });
}

test('sydent: an imported token authenticates, accepted terms are not asked again, other users are', async (t) => {
  const fixture = sydent('sydent-accounts');
  const config = unisdConfig();
  await importInto(config, 'sydent', fixture.dbPath, fixture.configPath);
  const app = await serve(config);
  t.after(() => app.close());
  const alice = await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer('sydent-token-alice') });
  assert.equal(alice.statusCode, 200, alice.body);
  assert.equal(alice.json().user_id, '@alice:example.org');
  const erin = await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer('sydent-token-erin') });
  assert.equal(erin.statusCode, 403);
  assert.equal(erin.json().errcode, 'M_TERMS_NOT_SIGNED');
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer('not-a-token') })).statusCode, 401);
});

test('sydent: an imported invite is in the bind answer, delivered by onbind, and still redeemable by sign-ed25519; the expired one is not imported', async (t) => {
  const dir = join(work, 'sydent-invites');
  const mxid = `@dave:${hs.serverName}`;
  const fixture = sydentFixture(dir, SERVER, {
    binds: [],
    invites: [
      { address: 'Dave@Example.org', token: 'invite-token-dave', roomId: '!room:example.org', sender: '@alice:example.org', receivedSeconds: Math.floor(Date.now() / 1000) - 60 },
      { address: 'dave@example.org', token: 'invite-token-old', roomId: '!old:example.org', sender: '@alice:example.org', receivedSeconds: Math.floor(Date.now() / 1000) - 30 * 86400 },
    ],
  });
  const config = unisdConfig();
  const { result, lines } = await importInto(config, 'sydent', fixture.dbPath, fixture.configPath);
  assert.deepEqual(result.areas.invites, { read: 2, skipped: 1, new: 1, unchanged: 0, conflict: 0 });
  assert.ok(lines.includes('  skipped invite_tokens id 2: expired'), lines.join('\n'));

  const app = await serve(config);
  t.after(() => app.close());
  const signed = await app.inject({ method: 'POST', url: `${V1}/sign-ed25519`, payload: { mxid, token: 'invite-token-dave', private_key: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
  assert.equal(signed.statusCode, 200, signed.body);
  assert.equal(signed.json().sender, '@alice:example.org');

  const session = await validatedEmailSession(app, smtp, 'dave@example.org');
  const bound = await app.inject({ method: 'POST', url: `${V1}/3pid/bind`, payload: { sid: session.sid, client_secret: session.clientSecret, mxid } });
  assert.equal(bound.statusCode, 200, bound.body);
  const invites = bound.json().invites;
  assert.equal(invites.length, 1);
  assert.equal(invites[0].signed.token, 'invite-token-dave');
  assert.equal(invites[0].room_id, '!room:example.org');
  assert.ok(verifyJsonSignature(invites[0].signed, SERVER, 'ed25519:0', fixture.key.publicKey));
  await app.onbind.flush();
  assert.equal(hs.onbinds.length, 1);
  assert.equal((hs.onbinds[0] as { invites: Array<{ signed: { token: string } }> }).invites[0]!.signed.token, 'invite-token-dave');
});

test('sydent: --dry-run reports per table with every skipped row and why, and writes nothing', async () => {
  const fixture = sydent('sydent-dry');
  const config = unisdConfig();
  const { result, lines } = await importInto(config, 'sydent', fixture.dbPath, fixture.configPath, { dryRun: true });
  assert.equal(result.written, false);
  for (const expected of [
    '  skipped local_threepid_associations id 2: duplicate 3PID (email): local_threepid_associations id 3 is newer and kept',
    '  skipped local_threepid_associations id 5: malformed address (email)',
    '  skipped local_threepid_associations id 6: unknown medium "fax"',
    '  skipped local_threepid_associations id 7: removed in the source (an unbind marker)',
    '  skipped accepted_terms_urls id 2: no policy of policy.policies has this URL',
    'binds (local_threepid_associations): 7 read, 3 to import, 0 already there, 0 conflicting, 4 skipped',
    'invites (invite_tokens): 2 read, 1 to import, 0 already there, 0 conflicting, 1 skipped',
    'tokens (tokens): 2 read, 2 to import, 0 already there, 0 conflicting, 0 skipped',
    'pepper (hashing_metadata): 1 read, 1 to import, 0 already there, 0 conflicting, 0 skipped',
    'threepid_validation_sessions: 1 rows not imported: validation sessions are short-lived: users validate again',
    'global_threepid_associations: 1 rows not imported: replicated from peer identity servers, not bound here',
  ]) assert.ok(lines.includes(expected), `${expected}\nnot in:\n${lines.join('\n')}`);
  assert.ok(!lines.join('\n').includes('Alice@Example.ORG'), 'the report names rows, not 3PIDs');
  assert.equal(existsSync(config.keys.path), false, 'no key file written');
  const store = await openStore(config.storage);
  try {
    assert.equal(await store.binds.get('email', 'alice@example.org'), null);
    assert.equal(await store.peppers.getPepperState(), null);
  } finally {
    await store.close();
  }
});

test('sydent: a second import finds everything already there and changes nothing', async () => {
  const fixture = sydent('sydent-twice');
  const config = unisdConfig();
  await importInto(config, 'sydent', fixture.dbPath, fixture.configPath);
  const dump = async () => {
    const store = await openStore(config.storage);
    try {
      const binds = [];
      for await (const b of store.binds.stream()) binds.push(b);
      return { binds, pepper: await store.peppers.getPepperState(), key: readFileSync(config.keys.path, 'utf8') };
    } finally {
      await store.close();
    }
  };
  const first = await dump();
  const { result } = await importInto(config, 'sydent', fixture.dbPath, fixture.configPath);
  const news = Object.entries(result.areas).filter(([, c]) => c.new > 0 || c.conflict > 0);
  assert.deepEqual(news, [], 'nothing new or conflicting the second time');
  assert.equal(result.areas.binds!.unchanged, 3);
  assert.deepEqual(await dump(), first);
});

test('sydent: a store binding a 3PID differently stops the import (nothing written) unless --overwrite', async () => {
  const fixture = sydent('sydent-conflict');
  const config = unisdConfig();
  const store = await openStore(config.storage);
  const other = { medium: 'email', address: 'alice@example.org', mxid: '@someone:example.org', ts: 1, notBefore: 1, notAfter: 2, signed: { mxid: '@someone:example.org' } };
  await store.binds.put(other);
  await store.close();

  const refused: ImportResult = (await importInto(config, 'sydent', fixture.dbPath, fixture.configPath)).result;
  assert.equal(refused.conflicts, 1);
  assert.equal(refused.written, false);
  const check = await openStore(config.storage);
  assert.equal((await check.binds.get('email', 'alice@example.org'))?.mxid, '@someone:example.org');
  assert.equal(await check.binds.get('email', 'bob@example.org'), null, 'nothing else was written either');
  await check.close();

  const forced = (await importInto(config, 'sydent', fixture.dbPath, fixture.configPath, { overwrite: true })).result;
  assert.equal(forced.written, true);
  const after = await openStore(config.storage);
  assert.equal((await after.binds.get('email', 'alice@example.org'))?.mxid, '@alice:example.org');
  await after.close();
});

/** ma1sd rows, with one malformed row per table for the skip report. */
function ma1sdContent(mxid: string): Ma1sdContent {
  return {
    invites: [
      { id: 'inv1', token: 'ma1sd-invite-token', sender: '@alice:example.org', address: 'Frank@Example.org', roomId: '!room:example.org', properties: { room_name: 'Lobby', sender_display_name: 'Alice', other: 'x' } },
      { id: 'inv2', token: 'ma1sd-invite-bad', sender: '@alice:example.org', address: 'not an address', roomId: '!room:example.org', properties: {} },
    ],
    accounts: [
      { token: 'ma1sd-token-alice', userId: '@alice:example.org', createdAt: Date.now() },
      { token: 'ma1sd-token-bad', userId: 'alice', createdAt: Date.now() },
      { token: 'ma1sd-token-frank', userId: mxid, createdAt: Date.now() },
    ],
    accepted: [{ userId: '@alice:example.org', url: PRIVACY_URL }, { userId: '@zed:example.org', url: 'https://elsewhere.example/terms.html' }],
  };
}

/** What an import of ma1sdContent writes, read back from the store and the key file. */
async function ma1sdState(config: Config) {
  const store = await openStore(config.storage);
  try {
    return {
      invite: await store.invites.get('ma1sd-invite-token'),
      alice: await store.accounts.get(hashSecret('ma1sd-token-alice')),
      frank: await store.accounts.get(hashSecret('ma1sd-token-frank')),
      terms: await store.terms.accepted('@alice:example.org'),
      pepper: await store.peppers.getPepperState(),
      key: existsSync(config.keys.path) ? readFileSync(config.keys.path, 'utf8') : null,
    };
  } finally {
    await store.close();
  }
}

async function checkMa1sdImport(t: { after: (fn: () => Promise<void>) => void }, db: string, configPath: string, key: { publicKeyBase64: string; publicKey: Uint8Array }, mxid: string) {
  const config = unisdConfig();
  const dry = await importInto(config, 'ma1sd', db, configPath, { dryRun: true });
  assert.equal(dry.result.written, false);
  for (const expected of [
    '  skipped invite_3pid id inv2: malformed address (email)',
    '  skipped account id #2: malformed Matrix ID',
    '  skipped accepted id #2: no policy of policy.policies has this URL',
    'invites (invite_3pid): 2 read, 1 to import, 0 already there, 0 conflicting, 1 skipped',
    'tokens (account): 3 read, 2 to import, 0 already there, 0 conflicting, 1 skipped',
    'terms (accepted): 2 read, 1 to import, 0 already there, 0 conflicting, 1 skipped',
    "hashes: 1 rows not imported: a cache of ma1sd's identity stores: unisd hashes what its providers answer",
  ]) assert.ok(dry.lines.includes(expected), `${expected}\nnot in:\n${dry.lines.join('\n')}`);
  assert.ok(!dry.lines.join('\n').includes('ma1sd-token'), 'the report never shows a token');
  assert.deepEqual(await ma1sdState(config), { invite: null, alice: null, frank: null, terms: [], pepper: null, key: null }, 'a dry run writes nothing');

  const { result, lines } = await importInto(config, 'ma1sd', db, configPath);
  assert.equal(result.areas.invites!.new, 1, lines.join('\n'));
  assert.equal(result.areas.tokens!.new, 2);
  assert.equal(result.areas.terms!.new, 1);
  // ma1sd keeps no binds of its own (its identity stores hold them: unisd's providers read those)
  // and no lookup pepper (kept in memory, new at each start): there is nothing of either to bring.
  assert.equal(result.areas.binds!.read, 0);
  assert.equal(result.areas.pepper!.read, 0);
  const imported = await ma1sdState(config);
  const again = (await importInto(config, 'ma1sd', db, configPath)).result;
  assert.deepEqual(Object.entries(again.areas).filter(([, c]) => c.new > 0 || c.conflict > 0), [], 'nothing new or conflicting the second time');
  assert.deepEqual(await ma1sdState(config), imported, 'a second import changes nothing');

  const app = await serve(config);
  t.after(() => app.close());
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/pubkey/ed25519:Abc_1` })).json().public_key, key.publicKeyBase64);
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer('ma1sd-token-alice') })).statusCode, 200, 'accepted in ma1sd: not asked again');
  const frank = await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer('ma1sd-token-frank') });
  assert.equal(frank.json().errcode, 'M_TERMS_NOT_SIGNED', 'the token works; this user accepted nothing');
  const session = await validatedEmailSession(app, smtp, 'frank@example.org');
  hs.onbinds.length = 0; // the fake homeserver is shared: count what this bind sends
  const bound = await app.inject({ method: 'POST', url: `${V1}/3pid/bind`, payload: { sid: session.sid, client_secret: session.clientSecret, mxid } });
  assert.equal(bound.statusCode, 200, bound.body);
  assert.equal(bound.json().invites[0].signed.token, 'ma1sd-invite-token');
  assert.ok(verifyJsonSignature(bound.json().invites[0].signed, SERVER, 'ed25519:Abc_1', key.publicKey));
  await app.onbind.flush();
  assert.equal(hs.onbinds.length, 1);
  const delivered = hs.onbinds[0] as { mxid: string; invites: Array<{ signed: { token: string } }> };
  assert.equal(delivered.mxid, mxid);
  assert.deepEqual(delivered.invites.map((i) => i.signed.token), ['ma1sd-invite-token'], 'the homeserver got the imported invite by onbind');
  const stored = await app.store.invites.get('ma1sd-invite-token');
  assert.deepEqual(stored?.fields, { room_name: 'Lobby', sender_display_name: 'Alice' }, 'only the spec\'s display fields are kept');
}

test('ma1sd on SQLite: a dry run reports skips and writes nothing; then invites (bind answer, onbind), tokens, accepted terms and the key come across, once; the database is untouched', async (t) => {
  const dir = join(work, 'ma1sd-sqlite');
  const { configPath, key } = ma1sdConfig(dir, SERVER, 'Abc_1');
  const db = join(dir, 'ma1sd.db');
  const mxid = `@frank:${hs.serverName}`;
  ma1sdSqlite(db, ma1sdContent(mxid));
  const before = fileHash(db);
  await checkMa1sdImport(t, db, configPath, key, mxid);
  assert.equal(fileHash(db), before);
});

test('ma1sd on PostgreSQL: the same (dry run, skips, invites, tokens, terms, key, idempotence), read in a read-only transaction', async (t) => {
  const uri = process.env.UNISD_TEST_POSTGRES_URI;
  if (!uri) {
    t.skip('UNISD_TEST_POSTGRES_URI not set');
    return;
  }
  const { default: pg } = await import('pg');
  const schema = `import17_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: uri });
  await admin.connect();
  t.after(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const mxid = `@frank:${hs.serverName}`;
  await admin.query(`SET search_path TO ${schema}`);
  for (const [sql, params] of ma1sdStatements(ma1sdContent(mxid))) await admin.query(sql, params);
  const dir = join(work, 'ma1sd-pg');
  const { configPath, key } = ma1sdConfig(dir, SERVER, 'Abc_1');
  const url = new URL(uri);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const count = async () => (await admin.query('SELECT (SELECT count(*) FROM invite_3pid) + (SELECT count(*) FROM account) AS n')).rows[0].n;
  const rows = await count();
  await checkMa1sdImport(t, url.toString(), configPath, key, mxid);
  assert.equal(await count(), rows, 'the ma1sd database is untouched');
});

/** Runs `unisd <args>` from the sources, as an operator does. */
function unisd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = join(import.meta.dirname, '..');
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'core/cli.ts', ...args], { cwd: root, env }, (err, stdout, stderr) => {
      done({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr });
    });
  });
}

test('the unisd import command: a dry run prints the report, an import writes, a conflict stops it with one line', async () => {
  const fixture = sydent('sydent-cli');
  const dir = join(work, 'cli');
  mkdirSync(dir, { recursive: true });
  const yaml = join(dir, 'unisd.yaml');
  writeFileSync(yaml, `server:\n  name: ${SERVER}\nstorage:\n  sqlite:\n    path: ${join(dir, 'unisd.db')}\nkeys:\n  path: ${join(dir, 'signing.key')}\n`);
  const args = ['import', 'sydent', '--db', fixture.dbPath, '--config', fixture.configPath, '-c', yaml];

  const dry = await unisd([...args, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^binds \(local_threepid_associations\): 7 read, 3 to import, 0 already there, 0 conflicting, 4 skipped$/m);
  assert.equal(existsSync(join(dir, 'signing.key')), false);

  const run = await unisd(args);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^binds \(local_threepid_associations\): 7 read, 3 new/m);
  assert.equal(readFileSync(join(dir, 'signing.key'), 'utf8'), `ed25519 0 ${readFileSync(fixture.configPath, 'utf8').match(/ed25519 0 (\S+)/)![1]}\n`);

  // Another sydent whose alice is someone else: the store disagrees, nothing is written.
  const other = sydentFixture(join(work, 'sydent-cli-other'), SERVER, { binds: [{ medium: 'email', address: 'alice@example.org', mxid: '@eve:example.org', ts: Date.now() }] });
  const refused = await unisd(['import', 'sydent', '--db', other.dbPath, '--config', other.configPath, '-c', yaml]);
  assert.equal(refused.code, 1);
  const lines = refused.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, refused.stderr);
  assert.match(lines[0]!, /^unisd: the store already holds different data for 2 entries .*nothing was imported\. --overwrite replaces them$/);
  assert.match(refused.stdout, /^  conflict local_threepid_associations id 1: the store binds this 3PID differently$/m);
  assert.match(refused.stdout, /^  conflict signing key: .*signing\.key \(keys\.path\) holds another key$/m);

  const missing = await unisd(['import', 'sydent', '--db', join(dir, 'nope.db'), '--config', fixture.configPath, '-c', yaml]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^unisd: cannot open .*nope\.db read-only/);
  assert.equal(existsSync(join(dir, 'nope.db')), false, 'a missing source is not created');
});
