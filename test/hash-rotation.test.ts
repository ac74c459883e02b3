/**
 * Pepper rotation: lookups never fail during one, both triggers (fake timers, no sleeps), the
 * replaced pepper accepted for its lifetime then refused, one rotation at a time, and two
 * instances sharing a store agreeing on one pepper.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { openSqliteStore, type SqliteStore } from '../core/store/sqlite/index.js';
import { testApp } from './helpers/app.js';
import { newPepper } from '../plugins/lookup/rotation.js';

const V2 = '/_matrix/identity/v2';
const identities = Array.from({ length: 3000 }, (_, i) => ({ username: `user${i}`, threepids: [{ medium: 'email', address: `user${i}@example.org` }] }));

async function rotatingApp(hashing: Record<string, unknown>, store?: SqliteStore): Promise<{ app: FastifyInstance; token: string }> {
  const app = await testApp({
    matrix: { domain: 'example.org' },
    memory: { enabled: true, hashEnabled: true, identities },
    hashing,
  }, store ? { store } : {});
  await app.hashLookup!.rotation.ready;
  return { app, token: await app.accounts.issue('@asker:example.org') };
}

const pepperOf = async (app: FastifyInstance, token: string): Promise<string> =>
  (await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: { authorization: `Bearer ${token}` } })).json().lookup_pepper;

async function lookupWith(app: FastifyInstance, token: string, pepper: string, i = 7) {
  const hash = lookupHash(`user${i}@example.org`, 'email', pepper);
  const res = await app.inject({ method: 'POST', url: `${V2}/lookup`, headers: { authorization: `Bearer ${token}` }, payload: { algorithm: 'sha256', pepper, addresses: [hash] } });
  return { status: res.statusCode, body: res.json(), found: res.json().mappings?.[hash] };
}

const rotated = (app: FastifyInstance) => new Promise<{ pepper: string; previous: string | null }>((resolve) => {
  const off = app.events.on('pepper-rotated', (payload) => { off(); resolve(payload); });
});

test('newPepper: the configured length, letters and digits only, not repeated', () => {
  const peppers = new Set(Array.from({ length: 100 }, () => newPepper(20)));
  assert.equal(peppers.size, 100);
  for (const pepper of peppers) assert.match(pepper, /^[a-zA-Z0-9]{20}$/);
  assert.match(newPepper(8), /^[a-zA-Z0-9]{8}$/);
});

test('a rotation under concurrent lookups fails none: the old pepper answers while the new table builds, then both; after its lifetime the old one is refused', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const { app, token } = await rotatingApp({ rotationPolicy: 'per_seconds', delay: '1h', altPeppers: { lifetime: '2m', count: 1 } });
  t.after(() => app.close());
  const old = await pepperOf(app, token);
  assert.match(old, /^[a-zA-Z0-9]{20}$/);
  assert.equal((await lookupWith(app, token, old)).found, '@user7:example.org');

  const done = app.hashLookup!.rotation.rotate();
  // Lookups while the new table is built in the pool: all answered, with the current pepper.
  const during = await Promise.all(Array.from({ length: 20 }, (_, i) => lookupWith(app, token, old, i)));
  for (const [i, answer] of during.entries()) assert.equal(answer.found, `@user${i}:example.org`);
  await done;
  const current = await pepperOf(app, token);
  assert.notEqual(current, old);
  assert.equal((await lookupWith(app, token, current)).found, '@user7:example.org');
  assert.equal((await lookupWith(app, token, old)).found, '@user7:example.org', 'the replaced pepper is still accepted');

  mock.timers.tick(2 * 60_000);
  const retired = await lookupWith(app, token, old);
  assert.equal(retired.status, 400);
  assert.equal(retired.body.errcode, 'M_INVALID_PEPPER');
  assert.equal(retired.body.lookup_pepper, current);
  assert.equal((await lookupWith(app, token, current)).found, '@user7:example.org');
});

test('per_seconds: the pepper rotates when `delay` has passed (fake timers)', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const { app, token } = await rotatingApp({ rotationPolicy: 'per_seconds', delay: '10m' });
  t.after(() => app.close());
  const first = await pepperOf(app, token);
  const next = rotated(app);
  mock.timers.tick(10 * 60_000 - 1);
  assert.equal(await pepperOf(app, token), first, 'not before its time');
  mock.timers.tick(1);
  const { pepper, previous } = await next;
  assert.equal(previous, first);
  assert.equal(await pepperOf(app, token), pepper);
  assert.equal((await lookupWith(app, token, pepper)).found, '@user7:example.org');
  // And again, `delay` after that rotation.
  const again = rotated(app);
  mock.timers.tick(10 * 60_000);
  assert.equal((await again).previous, pepper);
});

test('per_requests: one rotation after `requests` lookups, however many arrive while it runs', async (t) => {
  const { app, token } = await rotatingApp({ rotationPolicy: 'per_requests', requests: 3 });
  t.after(() => app.close());
  let rotations = 0;
  app.events.on('pepper-rotated', () => { rotations++; });
  const first = await pepperOf(app, token);
  const next = rotated(app);
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => lookupWith(app, token, first, i)));
  for (const [i, answer] of answers.entries()) assert.equal(answer.found, `@user${i}:example.org`);
  const { pepper } = await next;
  await app.hashLookup!.rotation.settled();
  assert.equal(rotations, 1);
  assert.notEqual(pepper, first);
  // The count starts again for the new pepper: two lookups do not rotate it.
  const settled = await pepperOf(app, token);
  await lookupWith(app, token, settled);
  await lookupWith(app, token, settled);
  assert.equal(await pepperOf(app, token), settled);
});

test('two instances on one store: one rotates, the other adopts its pepper (its own in_memory table), both answer it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-rotation-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // One SQLite database belongs to one process (a MongoDB database is what several instances
  // share): the two apps share one store object here, which is what matters to the rotation.
  const shared = await openSqliteStore(join(dir, 'db.sqlite'));
  const stores = [shared, { ...shared, close: async () => {} }];
  const a = await rotatingApp({ rotationPolicy: 'per_seconds', delay: '1h' }, stores[0]);
  t.after(() => a.app.close());
  const b = await rotatingApp({ rotationPolicy: 'per_seconds', delay: '1h' }, stores[1]);
  t.after(() => b.app.close());
  const first = await pepperOf(a.app, a.token);
  assert.equal(await pepperOf(b.app, b.token), first, 'the second instance took the stored pepper');

  await a.app.hashLookup!.rotation.rotate();
  const second = await pepperOf(a.app, a.token);
  assert.notEqual(second, first);
  await b.app.hashLookup!.rotation.sync();
  assert.equal(await pepperOf(b.app, b.token), second);
  assert.equal((await lookupWith(b.app, b.token, second)).found, '@user7:example.org');
  assert.equal((await lookupWith(b.app, b.token, first)).found, '@user7:example.org', 'the replaced pepper is an alternate there too');

  // Both rotate at once: the compare-and-swap lets one pepper win, and both end on it.
  await Promise.all([a.app.hashLookup!.rotation.rotate(), b.app.hashLookup!.rotation.rotate()]);
  const winner = (await stores[0].peppers.getPepperState())!.pepper;
  assert.equal(await pepperOf(a.app, a.token), winner);
  assert.equal(await pepperOf(b.app, b.token), winner);
  assert.equal((await lookupWith(a.app, a.token, winner)).found, '@user7:example.org');
  assert.equal((await lookupWith(b.app, b.token, winner)).found, '@user7:example.org');
});

test('provider-data-changed starts a rotation: the new table is read from the sources again', async (t) => {
  const { app, token } = await rotatingApp({ rotationPolicy: 'per_seconds', delay: '1h' });
  t.after(() => app.close());
  const first = await pepperOf(app, token);
  const next = rotated(app);
  app.events.emit('provider-data-changed', { provider: 'memory' });
  assert.equal((await next).previous, first);
  assert.equal((await lookupWith(app, token, await pepperOf(app, token))).found, '@user7:example.org');
});

test('a slow first build does not hold the start: the app is ready at once, lookups wait for the table and then answer', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const slowSource = async (app: FastifyInstance) => {
    app.providers.register({
      name: 'slow', priority: 5,
      capabilities: { media: ['email'], bulk: true, hashSource: true },
      lookup: async () => null,
      bulkLookup: async () => [],
      mappings: async function* () {
        await gate;
        yield [{ medium: 'email', address: 'late@example.org', mxid: '@late:example.org' }];
      },
    });
  };
  const app = await testApp({ hashing: { delay: '1h' } }, { extra: [slowSource] });
  t.after(() => app.close());
  const token = await app.accounts.issue('@asker:example.org');
  let answered = false;
  const details = app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: { authorization: `Bearer ${token}` } })
    .then((res) => { answered = true; return res.json().lookup_pepper as string; });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answered, false, 'waiting for the first table');
  open();
  const pepper = await details;
  const hash = lookupHash('late@example.org', 'email', pepper);
  const res = await app.inject({ method: 'POST', url: `${V2}/lookup`, headers: { authorization: `Bearer ${token}` }, payload: { algorithm: 'sha256', pepper, addresses: [hash] } });
  assert.deepEqual(res.json(), { mappings: { [hash]: '@late:example.org' } });
});
