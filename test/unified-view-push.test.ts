/**
 * The member side of MSC4004 (plugins/unified-view-push) against a loopback stand-in for a hub
 * (test/helpers/fake-unified-view-hub.ts) that checks the protocol: X-Matrix signatures with the
 * member's real key, chunk fields, peppers. The three-process run is test/unified-view-e2e.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { deepMerge, testApp, testConfig } from './helpers/app.js';
import { sample, scrape } from './helpers/metrics.js';
import { startFakeHub, type FakeHub } from './helpers/fake-unified-view-hub.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { validatedEmailSession } from './helpers/sessions.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import pino from 'pino';
import { WorkerPool } from '../core/workers.js';
import { UnifiedViewPush } from '../plugins/unified-view-push/service.js';
import { HubError } from '../plugins/unified-view-push/hub-client.js';
import { PushMetrics } from '../plugins/unified-view-push/metrics.js';
import { Metrics } from '../core/metrics.js';

const MEMBER = 'member.example.test';
const HUB = 'hub.example.test';
const USERS = Array.from({ length: 7 }, (_, i) => ({ username: `user${i}`, threepids: [{ medium: 'email', address: `user${i}@member.example` }] }));
const THREEPIDS = [...USERS.map((u) => u.threepids[0]!), { medium: 'msisdn', address: '15551230000' }, { medium: 'msisdn', address: '15551230001' }];

let smtp: TestSmtpServer;
before(async () => { smtp = await new TestSmtpServer().start(); });
after(() => smtp.stop());

function memberConfig(hub: FakeHub, hubEntry: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    server: { name: MEMBER },
    matrix: { domain: 'member.example' },
    email: { smtp: smtp.smtpConfig() },
    memory: { enabled: true, hashEnabled: true, identities: [...USERS, { username: 'phone', threepids: THREEPIDS.slice(7) }] },
    unifiedViewPush: {
      enabled: true,
      hubs: [{ url: hub.url, server: HUB, auth: 'signature', ...hubEntry }],
      chunkHashes: 3,
      retry: { attempts: 4, initialDelay: '10ms', maxDelay: '50ms' },
      ...extra,
    },
  };
}

async function member(t: { after: (fn: () => unknown) => void }, hub: FakeHub, hubEntry?: Record<string, unknown>, extra?: Record<string, unknown>): Promise<FastifyInstance> {
  const app = await testApp(memberConfig(hub, hubEntry, extra));
  t.after(() => app.close());
  return app;
}

/** A hub checking signatures with the member's key (the member needs the hub's URL first, the hub the member's key). */
async function memberAndHub(t: { after: (fn: () => unknown) => void }, extra?: Record<string, unknown>): Promise<{ hub: FakeHub; app: FastifyInstance }> {
  const hub = await startFakeHub({ name: HUB, member: MEMBER });
  t.after(() => hub.close());
  const app = await member(t, hub, {}, extra);
  hub.publicKey = app.signingKey.publicKey;
  return { hub, app };
}

const expectedHashes = (pepper: string, threepids = THREEPIDS) => new Set(threepids.map((t) => lookupHash(t.address, t.medium, pepper)));

/** The chunks of each snapshot, in the order sent: indexes from 0 without a hole, `final` on the last only. */
function assertChunkOrder(hub: FakeHub, chunkHashes: number): void {
  const bySnapshot = new Map<string, Array<{ chunk: number; final: boolean; hashes: number }>>();
  for (const r of hub.requests.filter((r) => r.method === 'POST' && r.status === 200)) {
    const list = bySnapshot.get(r.snapshot!) ?? [];
    list.push({ chunk: r.chunk!, final: r.final!, hashes: r.hashes! });
    bySnapshot.set(r.snapshot!, list);
  }
  for (const [snapshot, chunks] of bySnapshot) {
    assert.match(snapshot, /^[A-Za-z0-9._-]{1,64}$/);
    assert.deepEqual(chunks.map((c) => c.chunk), chunks.map((_, i) => i), 'chunk indexes run from 0 without a hole');
    assert.deepEqual(chunks.map((c) => c.final), chunks.map((_, i) => i === chunks.length - 1), 'only the last chunk is final');
    assert.ok(chunks.every((c) => c.hashes <= chunkHashes), 'no chunk holds more than chunkHashes');
  }
}

test('a push sends every local 3PID hashed with each of the hub\'s peppers, in chunks signed with the member\'s key, the last one final', async (t) => {
  const { hub, app } = await memberAndHub(t);
  hub.pepper = 'currentPepper';
  hub.alternates = ['previousPepper'];

  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.equal(outcome!.error, undefined);
  assert.equal(outcome!.peppers, 2);
  assert.equal(outcome!.threepids, THREEPIDS.length);
  assert.equal(outcome!.hashes, THREEPIDS.length * 2);
  assert.equal(outcome!.chunks, 2 * Math.ceil(THREEPIDS.length / 3));
  assert.deepEqual(hub.committed.get('currentPepper'), expectedHashes('currentPepper'));
  assert.deepEqual(hub.committed.get('previousPepper'), expectedHashes('previousPepper'));
  assert.ok(hub.requests.every((r) => r.auth === 'signature'), 'every request, hash_details included, is signed with the member key');
  assertChunkOrder(hub, 3);

  const [again] = await app.unifiedViewPush.pushNow();
  assert.equal(again!.peppers, 0, 'nothing changed: nothing is pushed');
  assert.equal(hub.requests.filter((r) => r.method === 'POST').length, outcome!.chunks);
});

test('a signature by another key is refused by the hub, and the push reports the hub\'s 401', async (t) => {
  const hub = await startFakeHub({ name: HUB, member: MEMBER, publicKey: generateSigningKey().publicKey });
  t.after(() => hub.close());
  const app = await member(t, hub);
  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.match(outcome!.error ?? '', /HTTP 401 M_UNAUTHORIZED/);
  assert.equal(hub.committed.size, 0);
});

test('failures in passing (503, 429) are retried with backoff; the snapshot still commits whole', async (t) => {
  const { hub, app } = await memberAndHub(t);
  hub.failNext(1, 503);
  hub.failNext(1, 429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 20 });
  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.equal(outcome!.error, undefined);
  assert.deepEqual(hub.requests.filter((r) => r.method === 'POST').slice(0, 3).map((r) => [r.chunk, r.status]), [[0, 503], [0, 429], [0, 200]], 'the same chunk is sent again');
  assert.deepEqual(hub.committed.get(hub.pepper), expectedHashes(hub.pepper));
});

test('a pepper that rotated between hash_details and the push (M_INVALID_PEPPER) restarts the push with the new one', async (t) => {
  const { hub, app } = await memberAndHub(t);
  hub.pepper = 'before';
  hub.afterDetails = () => {
    hub.pepper = 'after';
    hub.afterDetails = null;
  };
  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.equal(outcome!.error, undefined);
  assert.ok(hub.requests.some((r) => r.status === 400 && r.pepper === 'before'), 'the first chunk was refused');
  assert.deepEqual([...hub.committed.keys()], ['after']);
  assert.deepEqual(hub.committed.get('after'), expectedHashes('after'));
});

test('a chunk the hub lost (409) restarts with a new snapshot; a hub that keeps refusing fails the push', async (t) => {
  const { hub, app } = await memberAndHub(t);
  hub.failNext(1, 409, { errcode: 'M_UNKNOWN', error: 'unknown or already committed snapshot' });
  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.equal(outcome!.error, undefined);
  assert.equal(new Set(hub.requests.filter((r) => r.method === 'POST').map((r) => r.snapshot)).size, 2, 'a second snapshot id');
  assert.deepEqual(hub.committed.get(hub.pepper), expectedHashes(hub.pepper));

  hub.pepper = 'another';
  hub.failNext(1, 403, { errcode: 'M_FORBIDDEN', error: 'no' });
  const [refused] = await app.unifiedViewPush.pushNow();
  assert.match(refused!.error ?? '', /HTTP 403 M_FORBIDDEN/);
  assert.equal(hub.committed.has('another'), false);
});

test('a hub refusing the member\'s credentials on hash_details (401): the push fails with its answer and sends no chunk', async (t) => {
  const { hub, app } = await memberAndHub(t);
  hub.detailsForUsersOnly = true;
  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.match(outcome!.error ?? '', /hash_details with HTTP 401 M_UNAUTHORIZED/);
  assert.deepEqual(hub.requests.map((r) => [r.method, r.status]), [['GET', 401]], 'no probe, no chunk');
  assert.equal(hub.committed.size, 0);
});

test('metrics per hub (its server name, not its URL): snapshots pushed, 3PIDs declared, last success; failures', async (t) => {
  const hub = await startFakeHub({ name: HUB, member: MEMBER });
  t.after(() => hub.close());
  const app = await testApp(deepMerge(memberConfig(hub), { metrics: { enabled: true, port: 0 } }));
  t.after(() => app.close());
  hub.publicKey = app.signingKey.publicKey;
  hub.alternates = ['previousPepper'];
  const before = Date.now() / 1000;
  await app.unifiedViewPush.pushNow();
  let text = await scrape(app);
  assert.equal(sample(text, 'unisd_unified_view_push_snapshots_total', { hub: HUB }), 2, 'one snapshot per pepper: current and alternate');
  assert.equal(sample(text, 'unisd_unified_view_push_threepids', { hub: HUB }), THREEPIDS.length);
  assert.equal(sample(text, 'unisd_unified_view_push_failures_total', { hub: HUB }), 0);
  const success = sample(text, 'unisd_unified_view_push_last_success_timestamp_seconds', { hub: HUB });
  assert.ok(success >= before && success <= Date.now() / 1000, `last success ${success} is this push`);
  assert.ok(!text.includes(hub.url) && !text.includes(`127.0.0.1:${hub.port}`), 'no hub URL in a label');

  await app.unifiedViewPush.pushNow();
  text = await scrape(app);
  assert.equal(sample(text, 'unisd_unified_view_push_snapshots_total', { hub: HUB }), 2, 'nothing new: no snapshot');
  assert.equal(sample(text, 'unisd_unified_view_push_threepids', { hub: HUB }), THREEPIDS.length, 'an up-to-date push keeps the count');

  hub.pepper = 'rotated';
  hub.failNext(1, 403, { errcode: 'M_FORBIDDEN', error: 'no' });
  assert.ok((await app.unifiedViewPush.pushNow())[0]!.error);
  text = await scrape(app);
  assert.equal(sample(text, 'unisd_unified_view_push_failures_total', { hub: HUB }), 1);
  assert.equal(sample(text, 'unisd_unified_view_push_snapshots_total', { hub: HUB }), 2);
});

test('auth: secret sends the shared secret in X-Unisd-Member', async (t) => {
  const secret = 'a-shared-secret-of-some-length';
  const hub = await startFakeHub({ name: HUB, member: MEMBER, secret });
  t.after(() => hub.close());
  const app = await member(t, hub, { auth: 'secret', secret });
  const [outcome] = await app.unifiedViewPush.pushNow();
  assert.equal(outcome!.error, undefined);
  assert.ok(hub.requests.every((r) => r.auth === 'secret'));
  assert.deepEqual(hub.committed.get(hub.pepper), expectedHashes(hub.pepper));
});

test('once listening: pushes at start, again after a bind (debounced), and a new hub pepper at the next poll', async (t) => {
  const { hub, app } = await memberAndHub(t, { debounce: '20ms', pollInterval: '1s' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await hub.until(() => hub.committed.get(hub.pepper)?.size === THREEPIDS.length);

  const session = await validatedEmailSession(app, smtp, 'newcomer@member.example');
  const bound = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/3pid/bind', payload: { sid: session.sid, client_secret: session.clientSecret, mxid: '@newcomer:member.example' } });
  assert.equal(bound.statusCode, 200, bound.body);
  const withNewcomer = expectedHashes(hub.pepper, [...THREEPIDS, { medium: 'email', address: 'newcomer@member.example' }]);
  await hub.until(() => hub.committed.get(hub.pepper)?.size === withNewcomer.size);
  assert.deepEqual(hub.committed.get(hub.pepper), withNewcomer);

  hub.alternates = [hub.pepper];
  hub.pepper = 'rotatedPepper';
  await hub.until(() => hub.committed.has('rotatedPepper'));
  assert.equal(hub.committed.get('rotatedPepper')!.size, withNewcomer.size);
  const posts = hub.requests.filter((r) => r.method === 'POST' && r.status === 200);
  assert.ok(posts.filter((r) => r.pepper === hub.alternates[0] && r.final).length === 2, 'the alternate, pushed before, is not pushed again');
  assertChunkOrder(hub, 3);
});

test('schedule (fake timers): a failing hub is retried after doubling waits that polls do not cut short; once it succeeds polls resume; a burst of changes is released 5 s after its first', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  const config = testConfig({ unifiedViewPush: { hubs: [{ url: 'https://hub.example.org', server: HUB, auth: 'signature' }], pollInterval: '1s', debounce: '5s', pushInterval: '1d', retry: { initialDelay: '10s', maxDelay: '40s' } } });
  const service = new UnifiedViewPush({
    config: config.unifiedViewPush, origin: MEMBER, signingKey: generateSigningKey(), pool: new WorkerPool(), sources: () => [], log: pino({ level: 'silent' }), metrics: new PushMetrics(new Metrics()),
  });
  t.after(() => service.close());
  let refuse = true;
  const versions: number[] = [];
  // The push itself is the pusher's (tested above); here only when it is called.
  (service as unknown as { hubs: Array<{ pusher: { push: (version: number) => Promise<unknown> } }> }).hubs[0]!.pusher = {
    push: async (version) => {
      versions.push(version);
      if (refuse) throw new HubError('refused', false, 403, 'M_FORBIDDEN');
      return { hub: 'https://hub.example.org', peppers: 0, threepids: 0, hashes: 0, chunks: 0, ms: 0 };
    },
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const advance = async (ms: number) => {
    for (let i = 0; i < ms / 1000; i++) {
      t.mock.timers.tick(1000);
      await settle();
    }
  };
  service.start();
  await settle();
  assert.equal(versions.length, 1, 'pushed at start');
  await advance(9000);
  assert.equal(versions.length, 1, 'nine polls, no push: the hub waits out its first 10 s');
  await advance(1000);
  assert.equal(versions.length, 2, 'retried after 10 s');
  await advance(19_000);
  assert.equal(versions.length, 2);
  await advance(1000);
  assert.equal(versions.length, 3, 'then after 20 s');
  refuse = false;
  await advance(39_000);
  assert.equal(versions.length, 3, 'then after at most retry.maxDelay (40 s)');
  await advance(1000);
  assert.equal(versions.length, 4);
  await advance(3000);
  assert.equal(versions.length, 7, 'once it succeeded, every poll asks the hub again');

  const before = versions.length;
  service.dataChanged();
  await advance(2000);
  service.dataChanged();
  service.dataChanged();
  await advance(2000);
  assert.deepEqual(versions.slice(before), [0, 0, 0, 0], 'polls during the debounce push nothing new');
  await advance(1000);
  assert.equal(versions.at(-1), 3, 'the debounce, 5 s after the first change, releases the whole burst');
  await advance(2000);
  assert.deepEqual(versions.slice(-2), [3, 3], 'and polls keep that version');
});

test('config: a hub without server name, or auth secret without a secret, is refused naming the key', () => {
  assert.throws(() => testConfig({ unifiedViewPush: { hubs: [{ url: 'https://hub.example.org', auth: 'signature' }] } }), /unifiedViewPush\.hubs.*\[0\]\.server: expected the hub's server\.name/);
  assert.throws(() => testConfig({ unifiedViewPush: { hubs: [{ url: 'https://hub.example.org', server: 'hub.example.org', auth: 'secret' }] } }), /unifiedViewPush\.hubs.*\[0\]\.secret: expected the shared secret/);
  assert.throws(() => testConfig({ unifiedViewPush: { hubs: [{ url: 'hub.example.org', server: 'hub.example.org', auth: 'signature' }] } }), /\[0\]\.url: expected the hub's base URL/);
});

test('enabled without hubs stops the start with one line naming the key', async () => {
  await assert.rejects(testApp({ unifiedViewPush: { enabled: true } }), /unifiedViewPush\.hubs: expected at least one hub/);
});
