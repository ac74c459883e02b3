/**
 * The pieces that keep several instances in step, in one process on a shared SQLite store
 * (which has no notifications: what arrives came by polling). The same behaviour across real
 * processes on PostgreSQL: test/multi-instance.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { EventBus, type UnisdEvents } from '../core/events.js';
import { ChangeFollower } from '../core/changes.js';
import { Leases } from '../core/leases.js';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import type { ChangeLog, Store } from '../core/store/port.js';
import { testApp } from './helpers/app.js';

const log = pino({ level: 'silent' });
const carol = { medium: 'email' as const, address: 'carol@example.org', mxid: '@carol:example.org' };

/** A change log whose notifications never arrive: followers must poll. */
const withoutHints = (changes: ChangeLog): ChangeLog => Object.assign(Object.create(changes), { watch: async () => async () => {} });

function follower(store: Store, origin: string, pollInterval = 60_000, changes: ChangeLog = store.changes) {
  const events = new EventBus(() => {});
  const seen: Array<[keyof UnisdEvents, unknown]> = [];
  for (const name of ['bind', 'unbind', 'pepper-rotated', 'provider-data-changed'] as const) events.on(name, (payload) => { seen.push([name, payload]); });
  return { events, seen, follower: new ChangeFollower({ changes, events, origin, pollInterval, log }) };
}

test('a change made by one instance is emitted on the others with remote: true, on none twice, and never appended again', async (t) => {
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  const [a, b] = [follower(store, 'a'), follower(store, 'b')];
  for (const f of [a, b]) {
    await f.follower.begin();
    await f.follower.start();
    t.after(() => f.follower.stop());
  }
  a.events.emit('bind', carol);
  a.events.emit('pepper-rotated', { pepper: 'p2', previous: 'p1' });
  await a.follower.stop(); // waits for its appends
  await b.follower.caughtUp();
  assert.deepEqual(b.seen, [['bind', { ...carol, remote: true }], ['pepper-rotated', { pepper: 'p2', previous: 'p1', remote: true }]]);
  assert.deepEqual(a.seen, [['bind', carol], ['pepper-rotated', { pepper: 'p2', previous: 'p1' }]], 'its own changes are not read back');
  assert.equal((await store.changes.readAfter(0, 10)).length, 2, 'b appended nothing for what it was told');
});

test('starting at the log\'s end: what was appended before begin() is not replayed (the store already holds it)', async (t) => {
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  await store.changes.append('a', { kind: 'bind', ...carol }, Date.now());
  const b = follower(store, 'b');
  await b.follower.begin();
  await b.follower.caughtUp();
  assert.deepEqual(b.seen, []);
  assert.equal(b.follower.position, 1);
});

test('a missed notification heals by polling: with no hint, the change arrives at the next poll', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  const b = follower(store, 'b', 1000, withoutHints(store.changes));
  await b.follower.begin();
  await b.follower.start();
  t.after(() => b.follower.stop());
  await b.follower.caughtUp();
  await store.changes.append('a', { kind: 'unbind', ...carol }, Date.now());
  await new Promise(setImmediate);
  assert.deepEqual(b.seen, [], 'no hint, no poll yet');
  t.mock.timers.tick(1000);
  await b.follower.caughtUp();
  assert.deepEqual(b.seen, [['unbind', { ...carol, remote: true }]]);
});

test('leases: one holder runs the work, renewing it; a holder that died is taken over once its lease expired', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_800_000_000_000 });
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  const [a, b] = [new Leases(store.leases, 'a', 3000, log), new Leases(store.leases, 'b', 3000, log)];
  let finish!: () => void;
  const running = a.run('rotation', () => new Promise<void>((resolve) => { finish = resolve; }));
  await new Promise(setImmediate);
  assert.equal(await b.run('rotation', async () => assert.fail('b must not run it')), false);
  t.mock.timers.tick(2500); // past a's first lease, renewed at each third
  await new Promise(setImmediate);
  assert.equal(await b.acquire('rotation'), false, 'a renewed it while its work ran');
  finish();
  assert.equal(await running, true);
  assert.equal(await b.acquire('rotation'), true, 'released when the work ended');

  // b dies holding it (no release): a takes over only once the lease time has passed.
  t.mock.timers.tick(2999);
  assert.equal(await a.acquire('rotation'), false);
  t.mock.timers.tick(1);
  assert.equal(await a.acquire('rotation'), true);
});

async function sqlHashApp(store: Store): Promise<FastifyInstance> {
  return testApp({ matrix: { domain: 'example.org' }, hashing: { hashStorageType: 'sql', rotationPolicy: 'per_seconds', delay: '1h' } }, { store: store as never });
}

test('sql hash storage: a remote bind is already in the shared tables and is not written again; a local one is', async (t) => {
  const store = await openSqliteStore(':memory:');
  const app = await sqlHashApp(store);
  t.after(() => app.close());
  await app.hashLookup!.rotation.ready;
  const added: string[] = [];
  const add = store.hashes.add.bind(store.hashes);
  store.hashes.add = async (pepper, entries) => { added.push(...entries.map((e) => e.mxid)); return add(pepper, entries); };
  app.events.emit('bind', { ...carol, remote: true });
  app.events.emit('bind', { medium: 'email', address: 'dave@example.org', mxid: '@dave:example.org' });
  await app.hashLookup!.rotation.settled();
  await new Promise(setImmediate);
  assert.ok(added.includes('@dave:example.org'), 'the local bind is written');
  assert.ok(!added.includes('@carol:example.org'), 'the remote one is not');
});

test('a purge job with a lease runs on one of two instances sharing the store', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_800_000_000_000 });
  const shared = await openSqliteStore(':memory:');
  const apps = [
    await testApp({ validation: { purgeInterval: '5m' } }, { store: shared }),
    await testApp({ validation: { purgeInterval: '5m' } }, { store: { ...shared, close: async () => {} } }),
  ];
  t.after(async () => { await apps[1].close(); await apps[0].close(); });
  let purges = 0;
  const deleteBefore = shared.sessions.deleteBefore.bind(shared.sessions);
  shared.sessions.deleteBefore = async (before) => { purges++; return deleteBefore(before); };
  for (let i = 1; i <= 3; i++) {
    t.mock.timers.tick(5 * 60_000);
    await new Promise(setImmediate);
    assert.equal(purges, i, `one purge per interval (${i})`);
  }
});

test('server.workers across instances: a cluster begins a rotation only holding the store\'s rotation lease, or learns the pepper another instance made current', async (t) => {
  const store = await openSqliteStore(':memory:');
  const app = await testApp({ hashing: { rotationPolicy: 'per_seconds', delay: '1h' } }, { store });
  t.after(() => app.close());
  const rotation = app.hashLookup!.rotation;
  await rotation.ready;
  await store.leases.acquire('pepper-rotation', 'other-instance', 60_000, Date.now());
  await assert.rejects(rotation.beginCoordinated(), /another instance is rotating/);
  await store.leases.release('pepper-rotation', 'other-instance');
  assert.equal(await rotation.beginCoordinated(), undefined, 'go: the lease is this cluster\'s');
  assert.equal(await store.leases.acquire('pepper-rotation', 'other-instance', 60_000, Date.now()), false, 'held until the rotation ends');
  await rotation.endCoordinated();
  assert.equal(await store.leases.acquire('pepper-rotation', 'other-instance', 60_000, Date.now()), true, 'released at its end');

  const current = (await store.peppers.getPepperState())!;
  const elsewhere = { pepper: 'madeByAnotherInstance', altPeppers: [current.pepper], rotatedAt: Date.now(), requestCount: 0 };
  assert.equal(await store.peppers.swapPepperState(current.pepper, elsewhere), true);
  assert.deepEqual(await rotation.beginCoordinated(), elsewhere, 'switch to it instead of rotating');
});
