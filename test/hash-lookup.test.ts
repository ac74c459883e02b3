/**
 * Hash lookup over HTTP (/v2/hash_details, /v2/lookup): the spec's vectors, every error in
 * order, both storage types, the `none` algorithm, the budgets, Synapse's query token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { openSqliteStore, type SqliteStore } from '../core/store/sqlite/index.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';

const V2 = '/_matrix/identity/v2';

// identity-service-api.md, "Client behaviour": the pepper "matrixrocks".
const SPEC_VECTORS: Array<[address: string, medium: string, hash: string]> = [
  ['alice@example.com', 'email', '4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc'],
  ['bob@example.com', 'email', 'LJwSazmv46n0hlMlsb_iYxI0_HXEqy_yj6Jm636cdT8'],
  ['18005552067', 'msisdn', 'nlo35_T5fzSGZzJApqu8lgIudJvmOQtDaHtr-I4rU7I'],
];

const IDENTITIES = [
  { username: 'alice', threepids: [{ medium: 'email', address: 'alice@example.com' }] },
  { username: 'bob', threepids: [{ medium: 'email', address: 'Bob@Example.com' }] },
  { username: 'phone', threepids: [{ medium: 'msisdn', address: '+1 800 555 2067' }] },
];

/** An app whose memory provider knows the spec's three 3PIDs, with the pepper preset to `pepper`. */
export async function hashApp(overrides: Record<string, any> = {}, pepper = 'matrixrocks'): Promise<{ app: FastifyInstance; token: string; store: SqliteStore }> {
  const store = await openSqliteStore(':memory:');
  await store.peppers.swapPepperState(null, { pepper, altPeppers: [], rotatedAt: Date.now(), requestCount: 0 });
  const app = await testApp({
    matrix: { domain: 'example.org' },
    memory: { enabled: true, hashEnabled: true, identities: IDENTITIES },
    hashing: { delay: '1d', ...overrides.hashing },
    ...Object.fromEntries(Object.entries(overrides).filter(([key]) => key !== 'hashing')),
  }, { store });
  const token = await app.accounts.issue('@asker:example.org');
  await app.hashLookup?.rotation.ready;
  return { app, token, store };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function lookup(app: FastifyInstance, token: string, payload: unknown) {
  return app.inject({ method: 'POST', url: `${V2}/lookup`, headers: bearer(token), payload: payload as object });
}

for (const hashStorageType of ['in_memory', 'sql', 'store']) {
  test(`${hashStorageType}: the spec's hash vectors find their Matrix IDs through POST /v2/lookup, keyed by the client's strings`, async (t) => {
    const { app, token } = await hashApp({ hashing: { hashStorageType } });
    t.after(() => app.close());
    const details = await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: bearer(token) });
    assert.equal(details.statusCode, 200);
    assert.deepEqual(details.json(), { lookup_pepper: 'matrixrocks', algorithms: ['sha256', 'none'] });

    const unknown = lookupHash('carol@example.com', 'email', 'matrixrocks');
    const res = await lookup(app, token, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: [...SPEC_VECTORS.map(([, , hash]) => hash), unknown, 'junk "key"'] });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.headers['content-type'] as string, /^application\/json/);
    assert.deepEqual(res.json(), {
      mappings: {
        '4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc': '@alice:example.org',
        LJwSazmv46n0hlMlsb_iYxI0_HXEqy_yj6Jm636cdT8: '@bob:example.org',
        'nlo35_T5fzSGZzJApqu8lgIudJvmOQtDaHtr-I4rU7I': '@phone:example.org',
      },
    });
  });
}

/** How many times `key` is written as a key of the raw JSON text (JSON.parse keeps the last of repeated keys). */
const keyCount = (body: string, key: string) => body.split(`${JSON.stringify(key)}:`).length - 1;

for (const hashStorageType of ['in_memory', 'sql', 'store']) {
  test(`${hashStorageType}: a hash asked twice is written once in mappings`, async (t) => {
    const { app, token } = await hashApp({ hashing: { hashStorageType } });
    t.after(() => app.close());
    const [alice, bob] = SPEC_VECTORS.map(([, , hash]) => hash);
    const res = await lookup(app, token, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: [alice, bob, alice, alice] });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(keyCount(res.body, alice), 1, res.body);
    assert.deepEqual(res.json(), { mappings: { [alice]: '@alice:example.org', [bob]: '@bob:example.org' } });
  });
}

test('none: an address asked twice is written once in mappings', async (t) => {
  const { app, token } = await hashApp();
  t.after(() => app.close());
  const res = await lookup(app, token, { algorithm: 'none', pepper: 'matrixrocks', addresses: ['alice@example.com email', '18005552067 msisdn', 'alice@example.com email'] });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(keyCount(res.body, 'alice@example.com email'), 1, res.body);
  assert.deepEqual(res.json(), { mappings: { 'alice@example.com email': '@alice:example.org', '18005552067 msisdn': '@phone:example.org' } });
});

test('none: "<address> <medium>" is normalised and looked up through binds then providers; keys are the client\'s strings', async (t) => {
  const { app, token } = await hashApp();
  t.after(() => app.close());
  const res = await lookup(app, token, {
    algorithm: 'none', pepper: 'matrixrocks',
    addresses: ['ALICE@example.com email', '18005552067 msisdn', 'carol@example.com email', 'alice@example.com fax', 'nospace', `${'a'.repeat(400)} email`],
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { mappings: { 'ALICE@example.com email': '@alice:example.org', '18005552067 msisdn': '@phone:example.org' } });
});

test('errors come in order: auth, terms, missing params, addresses, empty list, algorithm, size, pepper', async (t) => {
  const { app, token } = await hashApp({
    hashing: { maxAddresses: 3 },
    policy: { policies: { privacy: { version: '1.0', terms: { en: { name: 'Privacy', url: 'https://id.example.test/privacy' } }, regexp: ['/_matrix/identity/v2/lookup'] } } },
  });
  t.after(() => app.close());
  const hash = SPEC_VECTORS[0][2];
  const expect = async (headers: Record<string, string>, payload: unknown, status: number, errcode: string | null, extra: Record<string, unknown> = {}) => {
    const res = await app.inject({ method: 'POST', url: `${V2}/lookup`, headers, payload: payload as object });
    assert.equal(res.statusCode, status, `${JSON.stringify(payload)} → ${res.body}`);
    if (errcode) {
      assert.equal(res.json().errcode, errcode, res.body);
      assert.equal(typeof res.json().error, 'string');
      for (const [key, value] of Object.entries(extra)) assert.deepEqual(res.json()[key], value);
    }
    return res;
  };
  // Everything wrong at once: each error shows only when those before it are fixed.
  const worst = { addresses: 'x', algorithm: 'md5', pepper: 'old' };
  await expect({}, worst, 401, 'M_UNAUTHORIZED');
  await expect(bearer('not-a-token'), worst, 401, 'M_UNAUTHORIZED');
  await expect(bearer(token), worst, 403, 'M_TERMS_NOT_SIGNED');
  await app.inject({ method: 'POST', url: `${V2}/terms`, headers: bearer(token), payload: { user_accepts: ['https://id.example.test/privacy'] } });
  await expect(bearer(token), { addresses: 'x' }, 400, 'M_MISSING_PARAMS');
  await expect(bearer(token), { ...worst, pepper: undefined }, 400, 'M_MISSING_PARAMS');
  await expect(bearer(token), worst, 400, 'M_INVALID_PARAM');
  await expect(bearer(token), { ...worst, addresses: [hash, 5] }, 400, 'M_INVALID_PARAM');
  await expect(bearer(token), { ...worst, addresses: [hash, null] }, 400, 'M_INVALID_PARAM');
  assert.deepEqual((await expect(bearer(token), { ...worst, addresses: [] }, 200, null)).json(), { mappings: {} });
  await expect(bearer(token), { ...worst, addresses: [hash, hash, hash, hash] }, 400, 'M_INVALID_PARAM');
  await expect(bearer(token), { ...worst, algorithm: 5, addresses: [hash, hash, hash, hash] }, 400, 'M_INVALID_PARAM');
  await expect(bearer(token), { ...worst, algorithm: 'sha256', addresses: [hash, hash, hash, hash] }, 400, 'M_TOO_LARGE');
  await expect(bearer(token), { ...worst, algorithm: 'sha256', addresses: [hash] }, 400, 'M_INVALID_PEPPER', { algorithm: 'sha256', lookup_pepper: 'matrixrocks' });
  await expect(bearer(token), { ...worst, algorithm: 'none', pepper: 5, addresses: [hash] }, 400, 'M_INVALID_PEPPER', { algorithm: 'none', lookup_pepper: 'matrixrocks' });
  await expect(bearer(token), [1, 2], 400, 'M_BAD_JSON');
  const ok = await expect(bearer(token), { ...worst, algorithm: 'sha256', pepper: 'matrixrocks', addresses: [hash] }, 200, null);
  assert.deepEqual(ok.json(), { mappings: { [hash]: '@alice:example.org' } });
});

test('an algorithm the operator left out is refused (none disabled)', async (t) => {
  const { app, token } = await hashApp({ hashing: { algorithms: ['sha256'] } });
  t.after(() => app.close());
  assert.deepEqual((await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: bearer(token) })).json().algorithms, ['sha256']);
  const res = await lookup(app, token, { algorithm: 'none', pepper: 'matrixrocks', addresses: ['alice@example.com email'] });
  assert.equal(res.json().errcode, 'M_INVALID_PARAM');
});

test('Synapse\'s hash_details with the token in the query string and no Authorization header', async (t) => {
  const { app, token } = await hashApp();
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: `${V2}/hash_details?access_token=${token}` });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().lookup_pepper, 'matrixrocks');
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/hash_details?access_token=wrong` })).statusCode, 401);
});

test('hashing.enabled false: both routes answer 404 M_UNRECOGNIZED, v1 lookups stay', async (t) => {
  const { app, token } = await hashApp({ hashing: { enabled: false } });
  t.after(() => app.close());
  for (const [method, url] of [['GET', '/hash_details'], ['POST', '/lookup']] as const) {
    const res = await app.inject({ method, url: `${V2}${url}`, headers: bearer(token), payload: method === 'POST' ? {} : undefined });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().errcode, 'M_UNRECOGNIZED');
  }
  assert.equal((await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=alice@example.com' })).json().mxid, '@alice:example.org');
});

test('lookup budget per token and per user: 429 M_LIMIT_EXCEEDED with retry_after_ms, counted in addresses', async (t) => {
  const { app, token } = await hashApp({ lookup: { budget: { perToken: 5, perUser: 8, window: '1h' } } });
  t.after(() => app.close());
  const hashes = (n: number) => Array.from({ length: n }, (_, i) => lookupHash(`x${i}@example.org`, 'email', 'matrixrocks'));
  assert.equal((await lookup(app, token, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: hashes(4) })).statusCode, 200);
  const over = await lookup(app, token, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: hashes(2) });
  assert.equal(over.statusCode, 429);
  assert.equal(over.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.ok(over.json().retry_after_ms > 0);
  // The refused request spent nothing: one more address still fits the token's budget.
  assert.equal((await lookup(app, token, { algorithm: 'none', pepper: 'matrixrocks', addresses: ['a@example.org email'] })).statusCode, 200);
  // A second token of the same user has its own token budget, but the user's total is 8.
  const second = await app.accounts.issue('@asker:example.org');
  assert.equal((await lookup(app, second, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: hashes(3) })).statusCode, 200);
  assert.equal((await lookup(app, second, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: hashes(1) })).statusCode, 429);
  // Another user is not affected.
  const other = await app.accounts.issue('@other:example.org');
  assert.equal((await lookup(app, other, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: hashes(5) })).statusCode, 200);
});

test('bind and unbind show in hash lookups at once, without a rebuild; after the unbind the provider\'s mapping shows again', async (t) => {
  const { TestSmtpServer } = await import('./helpers/smtp.js');
  const { validatedEmailSession } = await import('./helpers/sessions.js');
  const { startFakeHomeserver, federationConfig } = await import('./helpers/fake-homeserver.js');
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  for (const hashStorageType of ['in_memory', 'sql']) {
    const { app, token } = await hashApp({ hashing: { hashStorageType }, email: { smtp: smtp.smtpConfig() }, federation: federationConfig });
    const mxid = '@newalice:example.org';
    const userToken = await app.accounts.issue(mxid);
    const table = app.hashLookup!.memory?.index('matrixrocks');
    const alice = SPEC_VECTORS[0][2];
    const carol = lookupHash('carol@example.com', 'email', 'matrixrocks');
    const ask = async () => (await lookup(app, token, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: [alice, carol] })).json().mappings;
    assert.deepEqual(await ask(), { [alice]: '@alice:example.org' }, hashStorageType);

    const sessions: Record<string, { sid: string; clientSecret: string }> = {};
    for (const address of ['Alice@Example.com', 'carol@example.com']) {
      const session = sessions[address.toLowerCase()] = await validatedEmailSession(app, smtp, address, userToken);
      const res = await app.inject({ method: 'POST', url: `${V2}/3pid/bind`, headers: bearer(userToken), payload: { sid: session.sid, client_secret: session.clientSecret, mxid } });
      assert.equal(res.statusCode, 200, res.body);
    }
    assert.deepEqual(await ask(), { [alice]: mxid, [carol]: mxid }, `${hashStorageType}: binds show, and win over the provider`);

    const unbind = (address: string) => app.inject({
      method: 'POST', url: `${V2}/3pid/unbind`, headers: bearer(userToken),
      payload: { mxid, sid: sessions[address].sid, client_secret: sessions[address].clientSecret, threepid: { medium: 'email', address } },
    });
    assert.equal((await unbind('carol@example.com')).statusCode, 200);
    assert.deepEqual(await ask(), { [alice]: mxid }, `${hashStorageType}: carol's hash is gone`);
    assert.equal((await unbind('alice@example.com')).statusCode, 200);
    assert.deepEqual(await ask(), { [alice]: '@alice:example.org' }, `${hashStorageType}: the provider's mapping of alice is back`);
    assert.equal(app.hashLookup!.memory?.index('matrixrocks'), table, 'the same table, updated in place');
    await app.close();
  }
});

test('a source address holding a line break is left out of the table, and the 3PIDs around it are still found', async (t) => {
  const { app, token } = await hashApp({
    memory: { enabled: true, hashEnabled: true, identities: [
      { username: 'before', threepids: [{ medium: 'email', address: 'before@example.org' }] },
      { username: 'broken', threepids: [{ medium: 'email', address: 'two\nlines@example.org' }] },
      { username: 'after', threepids: [{ medium: 'email', address: 'after@example.org' }] },
    ] },
  });
  t.after(() => app.close());
  const hashes = ['before@example.org', 'two\nlines@example.org', 'after@example.org'].map((a) => lookupHash(a, 'email', 'matrixrocks'));
  const res = await lookup(app, token, { algorithm: 'sha256', pepper: 'matrixrocks', addresses: hashes });
  assert.deepEqual(res.json(), { mappings: { [hashes[0]]: '@before:example.org', [hashes[2]]: '@after:example.org' } });
});
