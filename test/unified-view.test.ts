/**
 * The unified-view hub (MSC4004): members push the hashes they own on POST /v2/lookups, hash
 * lookup answers them in third_party_mappings. Every refusal is checked twice: the documented
 * error, and a lookup afterwards showing the hub's data unchanged. ToM-server's failures on the
 * same cases each have a test here.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { testApp, testConfig } from './helpers/app.js';
import { sample, scrape } from './helpers/metrics.js';
import { loadConfig } from '../core/config/load.js';
import { openSqliteStore, type SqliteStore } from '../core/store/sqlite/index.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { generateSigningKey, signJson, type SigningKey } from '../core/crypto/signing.js';
import { PUSH_BODY_LIMIT } from '../plugins/unified-view/index.js';

const V2 = '/_matrix/identity/v2';
const HUB = 'hub.example.test';
const PEPPER = 'hubpepper1';
const PARIS = 'paris.example.test';
const LYON = 'lyon.example.test';
const NICE = 'nice.example.test';
const LYON_SECRET = 'lyon-shared-secret-0123456789';
const NICE_SECRET = 'nice-shared-secret-0123456789';
const parisKey = generateSigningKey('1');

/** Hashes of `<name>@<server>` emails with the hub's pepper. */
const hash = (name: string, pepper = PEPPER) => lookupHash(`${name}@example.org`, 'email', pepper);
const ALICE = hash('alice'); // the hub's own user

interface Hub { app: FastifyInstance; token: string; store: SqliteStore }

async function hubApp(unifiedView: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}, store?: SqliteStore): Promise<Hub> {
  store ??= await openSqliteStore(':memory:');
  if (!await store.peppers.getPepperState()) await store.peppers.swapPepperState(null, { pepper: PEPPER, altPeppers: [], rotatedAt: Date.now(), requestCount: 0 });
  const app = await testApp({
    server: { name: HUB },
    matrix: { domain: 'example.org' },
    memory: { enabled: true, hashEnabled: true, identities: [{ username: 'alice', threepids: [{ medium: 'email', address: 'alice@example.org' }] }] },
    hashing: { delay: '1d' },
    unifiedView: {
      enabled: true,
      members: [
        { server: PARIS, publicKey: parisKey.publicKeyBase64 },
        { server: LYON, secret: LYON_SECRET },
        { server: NICE, secret: NICE_SECRET, allowedAddresses: ['10.9.0.0/16', '2001:db8:9::/48'] },
      ],
      ...unifiedView,
    },
    ...overrides,
  }, { store });
  const token = await app.accounts.issue('@asker:example.org');
  await app.hashLookup!.rotation.ready;
  return { app, token, store };
}

/** `Authorization: X-Matrix …` for a request signed by `origin` with `key`. */
function xMatrix(key: SigningKey, origin: string, uri: string, content: unknown, destination = HUB): string {
  const signed = signJson({ method: 'POST', uri, origin, destination, content } as Record<string, unknown>, origin, key);
  return `X-Matrix origin="${origin}",destination="${destination}",key="${key.keyId}",sig="${signed.signatures[origin][key.keyId]}"`;
}

const secretAuth = (origin: string, secret: string) => `X-Unisd-Member origin="${origin}",secret="${secret}"`;

async function push(app: FastifyInstance, authorization: string | undefined, body: unknown, extra: { remoteAddress?: string; headers?: Record<string, string> } = {}) {
  const res = await app.inject({
    method: 'POST', url: `${V2}/lookups`, payload: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}), ...extra.headers },
    ...(extra.remoteAddress ? { remoteAddress: extra.remoteAddress } : {}),
  });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

const signedPush = (app: FastifyInstance, body: unknown, key = parisKey, origin = PARIS) => push(app, xMatrix(key, origin, `${V2}/lookups`, body), body);
const lyonPush = (app: FastifyInstance, body: unknown) => push(app, secretAuth(LYON, LYON_SECRET), body);

const body = (server: string, hashes: string[], extra: Record<string, unknown> = {}) => ({ algorithm: 'sha256', pepper: PEPPER, mappings: { [server]: hashes }, ...extra });

async function lookup(hub: Hub, addresses: string[], pepper = PEPPER): Promise<Record<string, any>> {
  const res = await hub.app.inject({ method: 'POST', url: `${V2}/lookup`, headers: { authorization: `Bearer ${hub.token}` }, payload: { algorithm: 'sha256', pepper, addresses } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** The hub's answer for the hashes these tests use: what every refusal must leave unchanged. */
const EVERYONE = ['alice', 'bob', 'carol', 'dave', 'erin', 'mallory'].map((name) => hash(name));
const state = (hub: Hub) => lookup(hub, EVERYONE);

test('a signed push (pinned key) is answered in third_party_mappings; a hash the hub maps itself stays in mappings only', async (t) => {
  const hub = await hubApp();
  t.after(() => hub.app.close());
  assert.deepEqual(await state(hub), { mappings: { [ALICE]: '@alice:example.org' } }, 'nothing pushed: no third_party_mappings key');

  const res = await signedPush(hub.app, body(PARIS, [hash('bob'), hash('carol'), ALICE]));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.committed, true);
  assert.equal(res.body.chunk, 0);
  assert.equal(res.body.received, 1);
  assert.match(res.body.snapshot, /^[A-Za-z0-9._-]{1,64}$/);
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('carol'), hash('dave')]))).status, 200);

  const answer = await lookup(hub, [ALICE, hash('bob'), hash('carol'), hash('dave'), hash('bob'), hash('zoe')]);
  assert.deepEqual(answer, {
    mappings: { [ALICE]: '@alice:example.org' },
    third_party_mappings: { [PARIS]: [hash('bob'), hash('carol')], [LYON]: [hash('carol'), hash('dave')] },
  });
});

test('hash_details lists alt_lookup_peppers: none, then the replaced pepper after a rotation, whose pushed mappings keep answering', async (t) => {
  const hub = await hubApp({}, { hashing: { delay: '1d', altPeppers: { lifetime: '1h', count: 1 } } });
  t.after(() => hub.app.close());
  const details = async () => (await hub.app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: { authorization: `Bearer ${hub.token}` } })).json();
  assert.deepEqual(await details(), { lookup_pepper: PEPPER, algorithms: ['sha256', 'none'], alt_lookup_peppers: [] });
  await signedPush(hub.app, body(PARIS, [hash('bob')]));
  await hub.app.hashLookup!.rotation.rotate();
  const after = await details();
  assert.notEqual(after.lookup_pepper, PEPPER);
  assert.deepEqual(after.alt_lookup_peppers, [PEPPER]);
  assert.deepEqual((await lookup(hub, [hash('bob')])).third_party_mappings, { [PARIS]: [hash('bob')] }, 'the alternate pepper still finds what was pushed with it');
  const fresh = after.lookup_pepper as string;
  const pushed = await signedPush(hub.app, { algorithm: 'sha256', pepper: fresh, mappings: { [PARIS]: [hash('bob', fresh)] } });
  assert.equal(pushed.status, 200);
  assert.deepEqual((await lookup(hub, [hash('bob', fresh)], fresh)).third_party_mappings, { [PARIS]: [hash('bob', fresh)] });
});

/** GET /hash_details with `authorization` (a member's header, a Bearer one, or none). */
async function readDetails(app: FastifyInstance, authorization?: string, remoteAddress?: string) {
  const res = await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: authorization ? { authorization } : {}, ...(remoteAddress ? { remoteAddress } : {}) });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

/** `Authorization: X-Matrix …` for GET /hash_details (no content) signed by `origin` with `key`. */
function signedGet(key: SigningKey, origin: string, uri = `${V2}/hash_details`, destination = HUB): string {
  const signed = signJson({ method: 'GET', uri, origin, destination } as Record<string, unknown>, origin, key);
  return `X-Matrix origin="${origin}",destination="${destination}",key="${key.keyId}",sig="${signed.signatures[origin][key.keyId]}"`;
}

test('members read hash_details, alt_lookup_peppers included, with their push credentials: signed or shared secret', async (t) => {
  const hub = await hubApp({}, { hashing: { delay: '1d', altPeppers: { lifetime: '1h', count: 1 } } });
  t.after(() => hub.app.close());
  await hub.app.hashLookup!.rotation.rotate();
  const expected = (await readDetails(hub.app, `Bearer ${hub.token}`)).body;
  assert.deepEqual(expected.alt_lookup_peppers, [PEPPER], 'a user token reads it as before');

  const signed = await readDetails(hub.app, signedGet(parisKey, PARIS));
  assert.equal(signed.status, 200, JSON.stringify(signed.body));
  assert.deepEqual(signed.body, expected);
  const shared = await readDetails(hub.app, secretAuth(LYON, LYON_SECRET));
  assert.equal(shared.status, 200, JSON.stringify(shared.body));
  assert.deepEqual(shared.body, expected);
  assert.equal((await readDetails(hub.app, secretAuth(NICE, NICE_SECRET), '10.9.0.5')).status, 200, 'from an allowed address');
});

test('security: hash_details stays closed to anybody else: no credentials, a stranger, a wrong secret, key, URI or hub (401), outside allowedAddresses (403)', async (t) => {
  const hub = await hubApp();
  t.after(() => hub.app.close());
  const refusedWith = async (authorization: string | undefined, status: number, errcode: string, remoteAddress?: string) => {
    const res = await readDetails(hub.app, authorization, remoteAddress);
    assert.equal(res.status, status, `${authorization}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.errcode, errcode);
    assert.equal(res.body.lookup_pepper, undefined, 'no pepper in a refusal');
  };
  await refusedWith(undefined, 401, 'M_UNAUTHORIZED');
  await refusedWith('Bearer not-a-token', 401, 'M_UNAUTHORIZED');
  const stranger = generateSigningKey('1');
  await refusedWith(signedGet(stranger, 'stranger.example.test'), 401, 'M_UNAUTHORIZED');
  await refusedWith(signedGet(stranger, PARIS), 401, 'M_UNAUTHORIZED');
  await refusedWith(signedGet(parisKey, PARIS, `${V2}/lookups`), 401, 'M_UNAUTHORIZED');
  await refusedWith(signedGet(parisKey, PARIS, `${V2}/hash_details`, 'other-hub.example.test'), 401, 'M_UNAUTHORIZED');
  await refusedWith(secretAuth(LYON, NICE_SECRET), 401, 'M_UNAUTHORIZED');
  await refusedWith(secretAuth('stranger.example.test', LYON_SECRET), 401, 'M_UNAUTHORIZED');
  await refusedWith(secretAuth(NICE, NICE_SECRET), 403, 'M_FORBIDDEN', '10.8.0.1');
  await refusedWith(`${secretAuth(NICE, NICE_SECRET)}x`, 401, 'M_UNAUTHORIZED', '10.9.0.5');
});

test('security: members\' reads of hash_details spend the client budget of pushes (rateLimit.perClient, 429); users\' reads do not', async (t) => {
  const hub = await hubApp({ rateLimit: { perMember: 100, perClient: 2, window: '1h' } });
  t.after(() => hub.app.close());
  assert.equal((await readDetails(hub.app, secretAuth(LYON, LYON_SECRET))).status, 200);
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('bob')]))).status, 200);
  const limited = await readDetails(hub.app, secretAuth(LYON, LYON_SECRET));
  assert.equal(limited.status, 429, JSON.stringify(limited.body));
  assert.equal(limited.body.errcode, 'M_LIMIT_EXCEEDED');
  assert.equal((await readDetails(hub.app, `Bearer ${hub.token}`)).status, 200, 'a user token goes through the user gate only');
});

test('mappings of a pepper are dropped when it retires: at the end of the alternates\' lifetime (fake timers)', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const hub = await hubApp({}, { hashing: { delay: '1d', altPeppers: { lifetime: '2m', count: 1 } } });
  t.after(() => hub.app.close());
  await signedPush(hub.app, body(PARIS, [hash('bob')]));
  await hub.app.hashLookup!.rotation.rotate();
  const fresh = hub.app.hashLookup!.rotation.pepper;
  await signedPush(hub.app, { algorithm: 'sha256', pepper: fresh, mappings: { [PARIS]: [hash('bob', fresh)] } });
  assert.deepEqual((await hub.store.thirdParty.members()).map((m) => m.pepper).sort(), [PEPPER, fresh].sort());

  mock.timers.tick(2 * 60_000);
  await waitFor(async () => (await hub.store.thirdParty.members()).length === 1);
  assert.deepEqual((await hub.store.thirdParty.members()).map((m) => m.pepper), [fresh]);
  assert.deepEqual((await lookup(hub, [hash('bob', fresh)], fresh)).third_party_mappings, { [PARIS]: [hash('bob', fresh)] });
});

test('a rotation that pushes a pepper out of altPeppers.count drops its mappings at once', async (t) => {
  const hub = await hubApp({}, { hashing: { delay: '1d', altPeppers: { lifetime: '1h', count: 1 } } });
  t.after(() => hub.app.close());
  await signedPush(hub.app, body(PARIS, [hash('bob')]));
  const dropped = new Promise<void>((resolve) => {
    const off = hub.app.events.on('pepper-rotated', () => { off(); resolve(); });
  });
  await hub.app.hashLookup!.rotation.rotate();
  await dropped;
  assert.equal((await hub.store.thirdParty.members()).length, 1, 'the first rotation keeps it as the alternate');
  await hub.app.hashLookup!.rotation.rotate();
  await waitFor(async () => (await hub.store.thirdParty.members()).length === 0);
});

test('chunked snapshot: invisible until its final chunk, then replaces the previous one whole (hashes left out disappear)', async (t) => {
  const hub = await hubApp();
  t.after(() => hub.app.close());
  await lyonPush(hub.app, body(LYON, [hash('bob'), hash('carol'), hash('dave')]));

  const first = await lyonPush(hub.app, body(LYON, [hash('dave')], { snapshot: 's-2', chunk: 0, final: false }));
  assert.deepEqual(first.body, { snapshot: 's-2', chunk: 0, received: 1, committed: false });
  assert.deepEqual((await state(hub)).third_party_mappings, { [LYON]: [hash('bob'), hash('carol'), hash('dave')] }, 'the open snapshot is invisible');
  const last = await lyonPush(hub.app, body(LYON, [hash('erin')], { snapshot: 's-2', chunk: 1, final: true }));
  assert.deepEqual(last.body, { snapshot: 's-2', chunk: 1, received: 2, committed: true });
  assert.deepEqual((await state(hub)).third_party_mappings, { [LYON]: [hash('dave'), hash('erin')] }, 'bob and carol, left out, are gone');
});

test('ToM-server failures: an empty mappings object is an empty snapshot, not a 500; a lookup of [""] returns no pushed hash', async (t) => {
  const hub = await hubApp();
  t.after(() => hub.app.close());
  await lyonPush(hub.app, body(LYON, [hash('bob')]));
  assert.deepEqual((await lookup(hub, [''])), { mappings: {} });
  assert.deepEqual((await lookup(hub, ['', ' ', '*', '%'])), { mappings: {} });
  const emptied = await lyonPush(hub.app, { algorithm: 'sha256', pepper: PEPPER, mappings: {} });
  assert.equal(emptied.status, 200);
  assert.equal(emptied.body.committed, true);
  assert.deepEqual(await state(hub), { mappings: { [ALICE]: '@alice:example.org' } }, 'the member declared nothing any more');
});

/** Each refusal: pushes that fail with `status`/`errcode`, and the hub answering as before. */
async function refused(hub: Hub, attempt: () => Promise<{ status: number; body: Record<string, any> }>, status: number, errcode: string): Promise<Record<string, any>> {
  const before = await state(hub);
  const stored = await hub.store.thirdParty.members();
  const res = await attempt();
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.errcode, errcode);
  assert.equal(typeof res.body.error, 'string');
  assert.deepEqual(await state(hub), before, 'the hub\'s answers are unchanged');
  assert.deepEqual(await hub.store.thirdParty.members(), stored, 'the stored snapshots are unchanged');
  return res.body;
}

async function seeded(): Promise<Hub> {
  const hub = await hubApp();
  await lyonPush(hub.app, body(LYON, [hash('bob')]));
  await signedPush(hub.app, body(PARIS, [hash('carol')]));
  return hub;
}

const MALLORY = [hash('mallory')];

test('security: an unauthenticated push is refused before its body is read (401 M_UNAUTHORIZED)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  await refused(hub, () => push(hub.app, undefined, body(LYON, MALLORY)), 401, 'M_UNAUTHORIZED');
  // A body that is not JSON: 401, not M_NOT_JSON, so authorization was decided first.
  await refused(hub, () => push(hub.app, undefined, '{not json'), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, secretAuth('stranger.example.test', LYON_SECRET), '{not json'), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, 'X-Unisd-Member origin="lyon.example.test"', body(LYON, MALLORY)), 401, 'M_UNAUTHORIZED');
});

test('security: a user\'s access token does not grant a push (401 M_UNAUTHORIZED)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  await refused(hub, () => push(hub.app, `Bearer ${hub.token}`, body(LYON, MALLORY)), 401, 'M_UNAUTHORIZED');
  const res = await hub.app.inject({ method: 'POST', url: `${V2}/lookups?access_token=${hub.token}`, payload: body(LYON, MALLORY) });
  assert.equal(res.statusCode, 401);
});

test('security: a wrong shared secret is refused, compared before the body is read (401)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  await refused(hub, () => push(hub.app, secretAuth(LYON, `${LYON_SECRET}x`), '{not json'), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, secretAuth(LYON, NICE_SECRET), body(LYON, MALLORY)), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, secretAuth(PARIS, LYON_SECRET), body(PARIS, MALLORY)), 401, 'M_UNAUTHORIZED');
});

test('security: a push signed by a different server, with a wrong key, for another hub, or with altered content is refused (401)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  const other = generateSigningKey('1');
  const content = body(PARIS, MALLORY);
  await refused(hub, () => push(hub.app, xMatrix(other, PARIS, `${V2}/lookups`, content), content), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, xMatrix(parisKey, LYON, `${V2}/lookups`, body(LYON, MALLORY)), body(LYON, MALLORY)), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, xMatrix(parisKey, 'evil.example.test', `${V2}/lookups`, body('evil.example.test', MALLORY)), body('evil.example.test', MALLORY)), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, xMatrix(parisKey, PARIS, `${V2}/lookups`, content, 'other-hub.example.test'), content), 401, 'M_UNAUTHORIZED');
  await refused(hub, () => push(hub.app, xMatrix(parisKey, PARIS, `${V2}/lookups`, body(PARIS, [hash('carol')])), content), 401, 'M_UNAUTHORIZED');
});

test('security: a member may only declare hashes under its own server name (403 M_FORBIDDEN)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  await refused(hub, () => signedPush(hub.app, body(LYON, MALLORY)), 403, 'M_FORBIDDEN');
  await refused(hub, () => signedPush(hub.app, { algorithm: 'sha256', pepper: PEPPER, mappings: { [PARIS]: MALLORY, [LYON]: MALLORY } }), 403, 'M_FORBIDDEN');
  await refused(hub, () => lyonPush(hub.app, body(PARIS, MALLORY)), 403, 'M_FORBIDDEN');
});

test('security: replayed chunks are idempotent, and a chunk of a committed snapshot is refused (409)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  const chunk0 = body(LYON, [hash('dave')], { snapshot: 'r1', chunk: 0, final: false });
  assert.equal((await lyonPush(hub.app, chunk0)).body.received, 1);
  assert.equal((await lyonPush(hub.app, chunk0)).body.received, 1, 'the same chunk again counts once');
  const final = body(LYON, [hash('erin')], { snapshot: 'r1', chunk: 1, final: true });
  assert.equal((await lyonPush(hub.app, final)).body.committed, true);
  assert.deepEqual((await state(hub)).third_party_mappings, { [PARIS]: [hash('carol')], [LYON]: [hash('dave'), hash('erin')] });
  const replay = await refused(hub, () => lyonPush(hub.app, { ...chunk0, mappings: { [LYON]: MALLORY } }), 409, 'M_UNKNOWN');
  assert.equal(replay.error, 'unknown or already committed snapshot');
  await refused(hub, () => lyonPush(hub.app, final), 409, 'M_UNKNOWN');
});

test('security: reordered chunks commit only when complete; a final chunk ahead of a missing one is refused (409) and the snapshot stays open', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('erin')], { snapshot: 'o1', chunk: 2, final: false }))).status, 200);
  const final = body(LYON, [hash('mallory')], { snapshot: 'o1', chunk: 1, final: true });
  const early = await refused(hub, () => lyonPush(hub.app, final), 409, 'M_UNKNOWN');
  assert.match(early.error, /incomplete/);
  await lyonPush(hub.app, body(LYON, [hash('dave')], { snapshot: 'o1', chunk: 0, final: false }));
  // Chunks 0 and 1 are there, but so is 2, past the final one: still not a complete snapshot.
  await refused(hub, () => lyonPush(hub.app, final), 409, 'M_UNKNOWN');

  // In order, but with the final chunk ahead of its predecessor: committed once both arrived.
  assert.equal((await refused(hub, () => lyonPush(hub.app, body(LYON, [hash('erin')], { snapshot: 'o2', chunk: 1, final: true })), 409, 'M_UNKNOWN')).errcode, 'M_UNKNOWN');
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('dave')], { snapshot: 'o2', chunk: 0, final: false }))).body.committed, false);
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('erin')], { snapshot: 'o2', chunk: 1, final: true }))).body.committed, true);
  assert.deepEqual((await state(hub)).third_party_mappings, { [PARIS]: [hash('carol')], [LYON]: [hash('dave'), hash('erin')] });
});

test('security: oversized bodies (413 M_TOO_LARGE past 4 MB) and chunks over maxChunkHashes are refused', async (t) => {
  const hub = await hubApp({ maxChunkHashes: 3 });
  t.after(() => hub.app.close());
  await lyonPush(hub.app, body(LYON, [hash('bob')]));
  const huge = JSON.stringify(body(LYON, [hash('dave')], { padding: 'x'.repeat(PUSH_BODY_LIMIT) }));
  await refused(hub, () => push(hub.app, secretAuth(LYON, LYON_SECRET), huge), 413, 'M_TOO_LARGE');
  await refused(hub, () => lyonPush(hub.app, body(LYON, ['carol', 'dave', 'erin', 'mallory'].map((name) => hash(name)))), 413, 'M_TOO_LARGE');
});

test('security: a wrong pepper is refused with the current one (400 M_INVALID_PEPPER); so are other algorithms and malformed hashes (400 M_INVALID_PARAM)', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  const wrong = await refused(hub, () => lyonPush(hub.app, { ...body(LYON, [hash('mallory', 'guessed')]), pepper: 'guessed' }), 400, 'M_INVALID_PEPPER');
  assert.equal(wrong.lookup_pepper, PEPPER);
  await refused(hub, () => lyonPush(hub.app, { ...body(LYON, MALLORY), algorithm: 'none' }), 400, 'M_INVALID_PARAM');
  await refused(hub, () => lyonPush(hub.app, body(LYON, ['', ...MALLORY])), 400, 'M_INVALID_PARAM');
  await refused(hub, () => lyonPush(hub.app, body(LYON, [`${hash('mallory')}=`])), 400, 'M_INVALID_PARAM');
  await refused(hub, () => lyonPush(hub.app, { ...body(LYON, MALLORY), mappings: [] }), 400, 'M_INVALID_PARAM');
  await refused(hub, () => lyonPush(hub.app, body(LYON, MALLORY, { snapshot: 'bad id!', chunk: 0, final: true })), 400, 'M_INVALID_PARAM');
  await refused(hub, () => lyonPush(hub.app, body(LYON, MALLORY, { snapshot: 'ok', chunk: -1, final: true })), 400, 'M_INVALID_PARAM');
  await refused(hub, () => lyonPush(hub.app, body(LYON, MALLORY, { snapshot: 'ok', chunk: 0 })), 400, 'M_INVALID_PARAM');
});

test('security: a push from outside the member\'s allowedAddresses is refused (403), IPv4 and IPv6, the client address taken from trusted proxies only', async (t) => {
  const hub = await hubApp({}, { server: { name: HUB, trustProxy: ['127.0.0.1'] } });
  t.after(() => hub.app.close());
  const nice = (remoteAddress: string, headers: Record<string, string> = {}) => push(hub.app, secretAuth(NICE, NICE_SECRET), body(NICE, MALLORY), { remoteAddress, headers });
  await refused(hub, () => nice('10.8.0.1'), 403, 'M_FORBIDDEN');
  await refused(hub, () => nice('2001:db8:8::1'), 403, 'M_FORBIDDEN');
  // A forged X-Forwarded-For from a client that is not a trusted proxy is not believed.
  await refused(hub, () => nice('10.8.0.1', { 'x-forwarded-for': '10.9.0.1' }), 403, 'M_FORBIDDEN');
  // And the address is checked before the secret: a wrong secret from outside is 403 too.
  await refused(hub, () => push(hub.app, secretAuth(NICE, 'wrong-secret-0123456789'), body(NICE, MALLORY), { remoteAddress: '10.8.0.1' }), 403, 'M_FORBIDDEN');

  assert.equal((await nice('10.9.1.2')).status, 200);
  assert.equal((await push(hub.app, secretAuth(NICE, NICE_SECRET), body(NICE, [hash('dave')]), { remoteAddress: '2001:db8:9::7' })).status, 200);
  assert.equal((await push(hub.app, secretAuth(NICE, NICE_SECRET), body(NICE, [hash('erin')]), { remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '10.9.3.3' } })).status, 200, 'through the trusted proxy');
  assert.deepEqual((await state(hub)).third_party_mappings, { [NICE]: [hash('erin')] });
});

test('a member\'s key is fetched from its own pubkey route when not pinned, and cached', async (t) => {
  const memberKey = generateSigningKey('7');
  const member = await testApp({ server: { name: 'member.example.test' } }, { signingKey: memberKey });
  await member.listen({ port: 0, host: '127.0.0.1' });
  const { port } = member.server.address() as { port: number };
  const hub = await hubApp({ members: [{ server: 'member.example.test', url: `http://127.0.0.1:${port}` }] });
  t.after(() => hub.app.close());

  const content = body('member.example.test', [hash('bob')]);
  const first = await push(hub.app, xMatrix(memberKey, 'member.example.test', `${V2}/lookups`, content), content);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  await member.close();
  const again = body('member.example.test', [hash('dave')]);
  assert.equal((await push(hub.app, xMatrix(memberKey, 'member.example.test', `${V2}/lookups`, again), again)).status, 200);
  assert.deepEqual((await state(hub)).third_party_mappings, { 'member.example.test': [hash('dave')] }, 'the second push was verified with the cached key: the member is down');
  await refused(hub, () => push(hub.app, xMatrix(generateSigningKey('7'), 'member.example.test', `${V2}/lookups`, content), content), 401, 'M_UNAUTHORIZED');
});

test('a member pushes at most rateLimit.perMember chunks per window (429 M_LIMIT_EXCEEDED)', async (t) => {
  const hub = await hubApp({ rateLimit: { perMember: 2, perClient: 100, window: '1h' } });
  t.after(() => hub.app.close());
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('bob')]))).status, 200);
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('carol')]))).status, 200);
  const limited = await refused(hub, () => lyonPush(hub.app, body(LYON, MALLORY)), 429, 'M_LIMIT_EXCEEDED');
  assert.ok(limited.retry_after_ms > 0);
  assert.equal((await signedPush(hub.app, body(PARIS, [hash('dave')]))).status, 200, 'other members have their own budget');
});

test('a member silent longer than memberTimeout is dropped by the sync job, and one the configuration no longer lists at start (fake timers)', async (t) => {
  mock.timers.enable({ apis: ['setInterval', 'Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const dir = mkdtempSync(join(tmpdir(), 'unisd-hub-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hub = await hubApp({ memberTimeout: '1h', syncInterval: '1m' }, {}, await openSqliteStore(join(dir, 'hub.db')));
  await lyonPush(hub.app, body(LYON, [hash('bob')]));
  mock.timers.tick(30 * 60_000);
  await signedPush(hub.app, body(PARIS, [hash('carol')]));
  mock.timers.tick(31 * 60_000);
  await waitFor(async () => (await state(hub)).third_party_mappings?.[LYON] === undefined);
  assert.deepEqual((await state(hub)).third_party_mappings, { [PARIS]: [hash('carol')] }, 'lyon, silent for 61 minutes, is gone; paris stays');
  await hub.app.close();
  mock.timers.reset();

  const restarted = await hubApp({ members: [{ server: LYON, secret: LYON_SECRET }] }, {}, await openSqliteStore(join(dir, 'hub.db')));
  t.after(() => restarted.app.close());
  await waitFor(async () => (await restarted.store.thirdParty.members()).length === 0);
  assert.deepEqual(await state(restarted), { mappings: { [ALICE]: '@alice:example.org' } });
});

test('several hub instances on one store: chunks of one snapshot may reach different instances; the others follow the commit', async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  // Two apps on one store object stand for two instances on one database (MongoDB, PostgreSQL:
  // SQLite admits one process); the second leaves closing the store to the first.
  const shared = await openSqliteStore(':memory:');
  const one = await hubApp({ syncInterval: '5s' }, {}, shared);
  const two = await hubApp({ syncInterval: '5s' }, {}, Object.create(shared, { close: { value: async () => {} } }));
  t.after(async () => { await two.app.close(); await one.app.close(); });

  assert.equal((await lyonPush(one.app, body(LYON, [hash('bob')], { snapshot: 'm1', chunk: 0, final: false }))).status, 200);
  const final = await lyonPush(two.app, body(LYON, [hash('carol')], { snapshot: 'm1', chunk: 1, final: true }));
  assert.deepEqual(final.body, { snapshot: 'm1', chunk: 1, received: 2, committed: true });
  assert.deepEqual((await state(two)).third_party_mappings, { [LYON]: [hash('bob'), hash('carol')] });
  assert.equal((await state(one)).third_party_mappings, undefined, 'the other instance has not synced yet');
  mock.timers.tick(5000);
  await waitFor(async () => (await state(one)).third_party_mappings !== undefined);
  assert.deepEqual((await state(one)).third_party_mappings, { [LYON]: [hash('bob'), hash('carol')] });
});

/** Waits for background work a timer started (a job's promise chain), checking after each turn of the event loop. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail('the condition never held');
}

test('metrics: chunks accepted and refused by reason, each member\'s snapshot sizes and last push, third-party index entries; no pepper or claimed origin in a label', async (t) => {
  const hub = await hubApp({}, { metrics: { enabled: true, port: 0 } });
  t.after(() => hub.app.close());
  const before = Date.now() / 1000;
  assert.equal((await signedPush(hub.app, body(PARIS, [hash('bob'), hash('carol'), hash('dave')]))).status, 200);
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('carol')], { snapshot: 's1', chunk: 0, final: false }))).status, 200);
  assert.equal((await lyonPush(hub.app, body(LYON, [hash('erin')], { snapshot: 's1', chunk: 1, final: true }))).status, 200);
  await push(hub.app, undefined, body(LYON, MALLORY));
  await push(hub.app, secretAuth('stranger.example.test', LYON_SECRET), body('stranger.example.test', MALLORY));
  await push(hub.app, secretAuth(NICE, NICE_SECRET), body(NICE, MALLORY), { remoteAddress: '10.8.0.1' });
  await lyonPush(hub.app, { ...body(LYON, MALLORY), pepper: 'guessed' });
  await lyonPush(hub.app, { ...body(LYON, MALLORY), algorithm: 'none' });
  await lyonPush(hub.app, body(LYON, MALLORY, { snapshot: 's1', chunk: 2, final: true }));
  await push(hub.app, secretAuth(LYON, LYON_SECRET), JSON.stringify(body(LYON, MALLORY, { padding: 'x'.repeat(PUSH_BODY_LIMIT) })));

  const text = await scrape(hub.app);
  assert.equal(sample(text, 'unisd_unified_view_chunks_total', { outcome: 'committed' }), 2);
  assert.equal(sample(text, 'unisd_unified_view_chunks_total', { outcome: 'written' }), 1);
  const reasons = { unauthorized: 2, forbidden: 1, invalid_pepper: 1, invalid: 1, snapshot_conflict: 1, too_large: 1 };
  for (const [reason, count] of Object.entries(reasons)) assert.equal(sample(text, 'unisd_unified_view_refused_chunks_total', { reason }), count, reason);
  assert.equal(sample(text, 'unisd_unified_view_member_hashes', { member: PARIS, pepper: 'current' }), 3);
  assert.equal(sample(text, 'unisd_unified_view_member_hashes', { member: LYON, pepper: 'current' }), 2);
  assert.ok(text.includes(`unisd_unified_view_member_hashes{member="${NICE}",pepper="current"} 0`), 'a configured member that never pushed is 0');
  const lastPush = sample(text, 'unisd_unified_view_member_last_push_timestamp_seconds', { member: PARIS });
  assert.ok(lastPush >= before && lastPush <= Date.now() / 1000, `last push ${lastPush}`);
  assert.equal(sample(text, 'unisd_unified_view_index_entries', { table: 'current' }), 4, 'bob, carol (declared twice: one entry), dave, erin');
  assert.equal(sample(text, 'unisd_unified_view_index_entries', { table: 'alternate' }), 0);
  assert.ok(!text.includes(PEPPER) && !text.includes('stranger.example.test'), 'no pepper, no claimed origin');
});

test('bad configuration stops the start with one line naming the key', async () => {
  const members = (list: unknown[]) => () => testConfig({ unifiedView: { enabled: true, members: list } });
  assert.throws(members([{ server: PARIS }]), /unifiedView\.members\[0\]: expected publicKey or url \(signed pushes\), or secret/);
  assert.throws(members([{ server: PARIS, secret: 'short' }]), /unifiedView\.members\[0\]\.secret: expected text of at least 16 characters/);
  assert.throws(members([{ server: PARIS, publicKey: 'not-a-key' }]), /unifiedView\.members\[0\]\.publicKey: expected an ed25519 public key/);
  assert.throws(members([{ server: LYON, secret: LYON_SECRET, allowedAddresses: ['10.0.0.0/33'] }]), /unifiedView\.members\[0\]\.allowedAddresses\[0\]: expected an IP address or CIDR range/);
  assert.throws(members([{ server: LYON, secret: LYON_SECRET }, { server: LYON, secret: NICE_SECRET }]), /unifiedView\.members\[1\]\.server: expected each server once \(lyon\.example\.test is listed before\)/);
  assert.throws(members([{ server: 'https://lyon.example.test', secret: LYON_SECRET }]), /unifiedView\.members\[0\]\.server: expected a server name/);
  assert.throws(members([{ server: LYON, secret: LYON_SECRET, token: 'x' }]), /unifiedView\.members\[0\]\.token: unknown key/);
  const fromEnv = loadConfig({ env: { UNISD_UNIFIED_VIEW_MEMBERS: JSON.stringify([{ server: LYON, secret: LYON_SECRET }]) } });
  assert.deepEqual(fromEnv.unifiedView.members, [{ server: LYON, secret: LYON_SECRET }]);
  await assert.rejects(testApp({ hashing: { enabled: false }, unifiedView: { enabled: true } }), /unifiedView\.enabled: needs hashing\.enabled/);
});

test('an authenticated member\'s malformed pushes are Matrix errors, never a 500, and change nothing', async (t) => {
  const hub = await seeded();
  t.after(() => hub.app.close());
  const before = await state(hub);
  const stored = await hub.store.thirdParty.members();
  const values: unknown[] = [null, 1, -1, 1.5, true, [], [''], ['x'], {}, { $gt: '' }, { [LYON]: 'x' }, { [LYON]: [1] }, { [LYON]: [null] }, '', 'x'.repeat(10_000), '\u0000', '😀'];
  const bodies: string[] = ['', 'null', '[]', '"text"', '42', '{', '\u0000', '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"x": 1}}}'];
  for (const field of ['algorithm', 'pepper', 'mappings', 'snapshot', 'chunk', 'final']) {
    for (const value of values) bodies.push(JSON.stringify({ ...body(LYON, MALLORY, { snapshot: 'f', chunk: 0, final: false }), [field]: value }));
  }
  for (const payload of bodies) {
    const res = await push(hub.app, secretAuth(LYON, LYON_SECRET), payload);
    assert.ok(res.status >= 400 && res.status < 500 || res.status === 200, `${payload.slice(0, 80)} → ${res.status}`);
    if (res.status !== 200) assert.equal(typeof res.body.errcode, 'string', payload.slice(0, 80));
  }
  assert.deepEqual(await state(hub), before);
  assert.deepEqual(await hub.store.thirdParty.members(), stored, 'nothing committed (an open snapshot at most)');
});
