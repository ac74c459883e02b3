import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestProvider, type RestProviderOptions } from '../plugins/rest/provider.js';
import { testApp, testConfig } from './helpers/app.js';
import { heldCost, measureStream } from './helpers/heap.js';
import { startMa1sdBackend, type BackendItem } from './helpers/ma1sd-backend.js';
import { freePort } from './helpers/net.js';
import { lookupByHash } from './helpers/hash-app.js';

const never = new AbortController().signal;

const DIRECTORY: BackendItem[] = [
  { medium: 'email', address: 'Alice@Example.com', id: { type: 'localpart', value: 'alice' } },
  { medium: 'msisdn', address: '+44 1632 960000', id: { type: 'mxid', value: '@bob:other.example' } },
  { medium: 'fax', address: '1234', id: { type: 'mxid', value: '@fax:example.com' } },
];

const alice = { medium: 'email', address: 'alice@example.com' };
const bob = { medium: 'msisdn', address: '441632960000' };
const nobody = { medium: 'email', address: 'nobody@example.com' };

const ENDPOINTS = { single: '/_ma1sd/backend/api/v1/identity/single', bulk: '/_ma1sd/backend/api/v1/identity/bulk', all: '/_unisd/backend/api/v1/identity/all' };

function restProvider(base: string, options: Partial<RestProviderOptions> = {}): RestProvider {
  return new RestProvider({
    endpoints: { single: base + ENDPOINTS.single, bulk: base + ENDPOINTS.bulk, all: base + ENDPOINTS.all },
    domain: 'example.com', hashEnabled: true, pageSize: 1000, timeout: 10_000, maxResponseBytes: 4_194_304, bearerToken: '', ...options,
  });
}

test('rest single lookup (ma1sd protocol): a localpart or a Matrix ID back, {} for no match; the bearer token is sent', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY);
  const provider = restProvider(backend.url, { bearerToken: 's3cret' });
  t.after(async () => { await provider.close(); await backend.close(); });
  assert.equal(await provider.lookup(alice, never), '@alice:example.com');
  assert.equal(await provider.lookup(bob, never), '@bob:other.example');
  assert.equal(await provider.lookup(nobody, never), null);
  assert.deepEqual(backend.authorizations, ['Bearer s3cret', 'Bearer s3cret', 'Bearer s3cret']);
});

test('rest bulk lookup (ma1sd protocol): the matches, raw addresses normalised to what was asked', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY);
  const provider = restProvider(backend.url);
  t.after(async () => { await provider.close(); await backend.close(); });
  assert.deepEqual(await provider.bulkLookup([nobody, bob, alice], never), [
    { ...bob, mxid: '@bob:other.example' },
    { ...alice, mxid: '@alice:example.com' },
  ]);
  assert.deepEqual(backend.authorizations, [undefined]);
});

test('rest hash source: 100k mappings paged through the listing endpoint, batches of at most 1000, bounded heap, unknown media skipped', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY, 100_000);
  const provider = restProvider(backend.url, { bearerToken: 's3cret', pageSize: 1000 });
  t.after(async () => { await provider.close(); await backend.close(); });
  const measured = await measureStream(provider.mappings(never));
  assert.equal(measured.mappings, 100_002);
  assert.equal(measured.largestBatch, 1000);
  assert.equal(backend.pages, 101);
  assert.equal(provider.skipped, 1);
  assert.ok(backend.authorizations.every((h) => h === 'Bearer s3cret'));
  const held = heldCost(100_000);
  assert.ok(measured.peakGrowth < held / 4, `heap grew by ${measured.peakGrowth} bytes while streaming; holding 100k mappings costs ${held}`);
});

test('rest hash source: the first page holds the directory, its addresses normalised', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY, 5);
  const provider = restProvider(backend.url, { pageSize: 3 });
  t.after(async () => { await provider.close(); await backend.close(); });
  const all = [];
  for await (const batch of provider.mappings(never)) all.push(...batch);
  assert.deepEqual(all.slice(0, 2), [{ ...alice, mxid: '@alice:example.com' }, { ...bob, mxid: '@bob:other.example' }]);
  assert.deepEqual(all.at(-1), { medium: 'email', address: 'user4@example.org', mxid: '@user4:example.org' });
  assert.equal(all.length, 7);
  assert.equal(backend.pages, 3);
});

test('rest: an oversized answer is cut at rest.maxResponseBytes and fails the call', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY);
  backend.behaviour = 'oversized';
  const provider = restProvider(backend.url, { maxResponseBytes: 65_536 });
  t.after(async () => { await provider.close(); await backend.close(); });
  await assert.rejects(provider.bulkLookup([alice], never), /answered more than 65536 bytes/);
});

test('rest: an HTTP error status or an answer of another shape fails the call', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY);
  const provider = new RestProvider({
    endpoints: { single: `${backend.url}/missing`, bulk: `${backend.url}${ENDPOINTS.single}`, all: `${backend.url}/missing` },
    domain: 'example.com', hashEnabled: true, pageSize: 10, timeout: 10_000, maxResponseBytes: 65_536, bearerToken: '',
  });
  t.after(async () => { await provider.close(); await backend.close(); });
  await assert.rejects(provider.lookup(alice, never), /answered HTTP 404/);
  await assert.rejects(async () => { for await (const _ of provider.mappings(never)) { /* consume */ } }, /listing endpoint answered HTTP 404/);
  // The single endpoint answers {} to a bulk request: not a bulk answer.
  await assert.rejects(provider.bulkLookup([alice], never), /no "lookup" list/);
});

test('rest: an aborted call (the registry\'s deadline) ends the request to a hanging backend', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY);
  backend.behaviour = 'hang';
  const provider = restProvider(backend.url);
  t.after(async () => { await provider.close(); await backend.close(); });
  const controller = new AbortController();
  const call = provider.lookup(alice, controller.signal);
  while (backend.authorizations.length === 0) await new Promise((resolve) => setImmediate(resolve));
  controller.abort();
  await assert.rejects(call, /did not answer in time/);
});

const memory = { enabled: true, identities: [{ username: '@dave:example.com', threepids: [{ medium: 'email', address: 'dave@example.com' }] }] };

test('rest through the app: v1 lookups answered by the backend', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY);
  const app = await testApp({ matrix: { domain: 'example.com' }, memory, rest: { enabled: true, host: `${backend.url}/`, bearerToken: 's3cret' } });
  t.after(async () => { await app.close(); await backend.close(); });
  const single = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=ALICE@example.com' });
  assert.equal(single.json().mxid, '@alice:example.com');
  const bulk = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup', payload: { threepids: [['msisdn', '+44 1632 960000'], ['email', 'dave@example.com']] } });
  assert.deepEqual(bulk.json(), { threepids: [['msisdn', '+44 1632 960000', '@bob:other.example'], ['email', 'dave@example.com', '@dave:example.com']] });
});

test('rest: a sha256 hash lookup through the running app finds the backend\'s listed 3PIDs by their normalised hashes (Alice@Example.com as alice@example.com)', async (t) => {
  const backend = await startMa1sdBackend(DIRECTORY, 2);
  t.after(() => backend.close());
  const found = await lookupByHash(t, { matrix: { domain: 'example.com' }, rest: { enabled: true, host: backend.url, hashEnabled: true, bearerToken: 's3cret' } }, [
    alice, bob, { medium: 'email', address: 'user1@example.org' },
    // The backend's own spelling is not what a client hashes; an unknown address finds nothing.
    { medium: 'email', address: 'Alice@Example.com' }, nobody,
  ]);
  assert.deepEqual(found, { 'alice@example.com email': '@alice:example.com', '441632960000 msisdn': '@bob:other.example', 'user1@example.org email': '@user1:example.org' });
  assert.ok(backend.pages >= 1);
});

test('rest through the app: a backend that is down, or that hangs, is skipped and the others answer (200)', async (t) => {
  const hanging = await startMa1sdBackend(DIRECTORY);
  hanging.behaviour = 'hang';
  t.after(() => hanging.close());
  const closedPort = `http://127.0.0.1:${await freePort()}`;
  for (const [kind, host] of [['down', closedPort], ['hanging', hanging.url]] as const) {
    const app = await testApp({ matrix: { domain: 'example.com' }, memory, providers: { timeout: '300ms' }, rest: { enabled: true, host } });
    t.after(() => app.close());
    const bulk = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup', payload: { threepids: [['email', 'alice@example.com'], ['email', 'dave@example.com']] } });
    assert.equal(bulk.statusCode, 200, kind);
    assert.deepEqual(bulk.json(), { threepids: [['email', 'dave@example.com', '@dave:example.com']] }, kind);
    const single = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=alice@example.com' });
    assert.equal(single.statusCode, 200, kind);
    assert.deepEqual(single.json(), {}, kind);
    const failures = app.providers.failures.get('rest');
    assert.equal(kind === 'down' ? failures?.error : failures?.timeout, 2, kind);
  }
});

test('rest: ma1sd\'s rest configuration loads unchanged; endpoints are paths on rest.host or whole URLs, empty ones off', async (t) => {
  const config = testConfig({
    rest: {
      enabled: true, host: 'https://backend.example.org',
      endpoints: { auth: '/_ma1sd/backend/api/v1/auth/login', directory: '', identity: { single: '', bulk: 'https://other.example.org/bulk' }, profile: { displayName: '', threepids: '', roles: '' } },
    },
  });
  assert.equal(config.rest.endpoints.identity.bulk, 'https://other.example.org/bulk');
  const backend = await startMa1sdBackend(DIRECTORY);
  t.after(() => backend.close());
  const app = await testApp({ matrix: { domain: 'example.com' }, rest: { enabled: true, host: 'http://unused.invalid', endpoints: { identity: { single: '', bulk: `${backend.url}${ENDPOINTS.bulk}` } } } });
  t.after(() => app.close());
  const single = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=alice@example.com' });
  assert.equal(single.json().mxid, '@alice:example.com');
  await assert.rejects(testApp({ rest: { enabled: true } }), /rest\.host: expected the backend's base URL/);
  await assert.rejects(testApp({ rest: { enabled: true, host: 'ftp://x' } }), /rest\.host: expected an http/);
  await assert.rejects(testApp({ rest: { enabled: true, host: 'http://x', pageSize: 5000 } }), /rest\.pageSize: expected 1 to 1000/);
});
