import { test, before, after } from 'node:test';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { families, metricsApp, metricsUrl, sample, scrape } from './helpers/metrics.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { FakeTwilio } from './helpers/fake-twilio.js';
import { startFakeHomeserver, federationConfig } from './helpers/fake-homeserver.js';
import { validatedEmailSession } from './helpers/sessions.js';
import { Metrics, type MetricsBackend } from '../core/metrics.js';
import type { IdentityProvider } from '../core/providers/provider.js';

const V1 = '/_matrix/identity/api/v1';
const V2 = '/_matrix/identity/v2';

let smtp: TestSmtpServer;
before(async () => { smtp = await new TestSmtpServer().start(); });
after(() => smtp.stop());

async function started(t: { after: (fn: () => Promise<void>) => void }, overrides: Record<string, unknown> = {}, extra: Array<(app: FastifyInstance) => Promise<void>> = []): Promise<FastifyInstance> {
  const app = await metricsApp({ email: { smtp: smtp.smtpConfig() }, ...overrides }, { extra });
  t.after(() => app.close());
  return app;
}

test('app.metrics: metrics defined before and after the backend is bound record there; a name defined twice is one metric, or an error if it differs', () => {
  const recorded: string[] = [];
  const backend: MetricsBackend = {
    counter: (d) => ({ inc: (labels = {}, value = 1) => { recorded.push(`${d.name}${JSON.stringify(labels)}+${value}`); } }),
    histogram: (d) => ({ observe: (labels, value) => { recorded.push(`${d.name}${JSON.stringify(labels)}=${value >= 0}`); } }),
    gauge: (d) => ({ set: (labels, value) => { recorded.push(`${d.name}${JSON.stringify(labels)}:${value}`); } }),
  };
  const metrics = new Metrics();
  const early = metrics.counter({ name: 'early_total', help: 'h', labelNames: ['kind'] });
  early.inc({ kind: 'lost' }); // no backend yet: a no-op
  metrics.use(backend);
  early.inc({ kind: 'a' });
  assert.equal(metrics.counter({ name: 'early_total', help: 'again', labelNames: ['kind'] }), early);
  metrics.histogram({ name: 'late_seconds', help: 'h' }).startTimer({ route: 'r' })();
  metrics.gauge({ name: 'depth', help: 'h' }).set({}, 3);
  assert.deepEqual(recorded, ['early_total{"kind":"a"}+1', 'late_seconds{"route":"r"}=true', 'depth{}:3']);
  assert.throws(() => metrics.gauge({ name: 'early_total', help: 'h', labelNames: ['kind'] }), /early_total is defined twice/);
  assert.throws(() => metrics.use(backend), /already bound/);
});

test('metrics are off by default: no listener, and the public port answers /metrics with 404', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  assert.equal(app.hasDecorator('metricsServer'), false);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/metrics`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { errcode: string }).errcode, 'M_UNRECOGNIZED');
});

test('with metrics on, /metrics is served on its own loopback listener and never on the public port', async (t) => {
  const app = await started(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const publicPort = (app.server.address() as AddressInfo).port;
  const { address, port } = app.metricsServer.address() as AddressInfo;
  assert.equal(address, '127.0.0.1', 'metrics.host defaults to loopback');
  assert.notEqual(port, publicPort);
  assert.equal((await fetch(`http://127.0.0.1:${publicPort}/metrics`)).status, 404);
  const res = await fetch(metricsUrl(app));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  assert.equal((await fetch(metricsUrl(app).replace('/metrics', '/other'))).status, 404);
});

test('the metrics listener closes with the app', async () => {
  const app = await metricsApp();
  const url = metricsUrl(app);
  await app.close();
  assert.equal(app.metricsServer.listening, false);
  await assert.rejects(fetch(url));
});

test('requests are counted and timed by route template and status; unknown paths share one label and no path value reaches a label', async (t) => {
  const app = await started(t);
  const before = await scrape(app);
  const key = 'ed25519:alice@example.org';
  assert.equal((await app.inject(`${V2}/pubkey/${encodeURIComponent(key)}`)).statusCode, 404);
  assert.equal((await app.inject(`${V2}/pubkey/ed25519:0`)).statusCode, 200);
  assert.equal((await app.inject('/secret/bob@example.org?access_token=tok')).statusCode, 404);
  const text = await scrape(app);
  const route = `${V2}/pubkey/:keyId`;
  assert.equal(sample(text, 'unisd_http_requests_total', { route, status: '200', method: 'GET' }) - sample(before, 'unisd_http_requests_total', { route, status: '200' }), 1);
  assert.equal(sample(text, 'unisd_http_requests_total', { route, status: '404' }), 1);
  assert.equal(sample(text, 'unisd_http_requests_total', { route: 'unmatched', status: '404' }), 1);
  assert.equal(sample(text, 'unisd_http_request_duration_seconds_count', { route, method: 'GET' }), 2);
  assert.doesNotMatch(text, /example\.org|tok\b|secret/);
});

function provider(name: string, lookup: IdentityProvider['lookup']): IdentityProvider {
  return { name, priority: 5, capabilities: { media: ['email'], bulk: false, hashSource: false }, lookup, bulkLookup: async () => [] };
}

test('provider calls, failures by kind and latency are counted by provider', async (t) => {
  const app = await started(t, {}, [async (server) => {
    server.providers.register(provider('broken', async () => { throw new Error('down'); }));
    server.providers.register({ ...provider('directory', async () => '@carol:example.org'), priority: 6 });
  }]);
  const res = await app.inject(`${V1}/lookup?medium=email&address=carol@example.org`);
  assert.equal(res.json().mxid, '@carol:example.org');
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_provider_calls_total', { provider: 'broken' }), 1);
  assert.equal(sample(text, 'unisd_provider_calls_total', { provider: 'directory' }), 1);
  assert.equal(sample(text, 'unisd_provider_failures_total', { provider: 'broken', kind: 'error' }), 1);
  assert.equal(sample(text, 'unisd_provider_failures_total', { provider: 'directory', kind: 'error' }), 0);
  assert.equal(sample(text, 'unisd_provider_call_duration_seconds_count', { provider: 'directory' }), 1);
});

test('v1 lookups count the addresses asked and found (api v1, algorithm none)', async (t) => {
  const app = await started(t, { memory: { enabled: true, identities: [{ username: 'dave', threepids: [{ medium: 'email', address: 'dave@example.org' }] }] }, matrix: { domain: 'example.org' } });
  assert.equal((await app.inject(`${V1}/lookup?medium=email&address=dave@example.org`)).json().mxid, '@dave:example.org');
  const bulk = await app.inject({ method: 'POST', url: `${V1}/bulk_lookup`, payload: { threepids: [['email', 'dave@example.org'], ['email', 'nobody@example.org']] } });
  assert.equal(bulk.json().threepids.length, 1);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_lookup_addresses_total', { api: 'v1', algorithm: 'none' }), 3);
  assert.equal(sample(text, 'unisd_lookup_hits_total', { api: 'v1', algorithm: 'none' }), 2);
});

test('rate-limit refusals are counted by limiter, named by its config key', async (t) => {
  const app = await started(t, { lookup: { rateLimit: { perClient: 1 } } });
  assert.equal((await app.inject(`${V1}/lookup?medium=email&address=a@example.org`)).statusCode, 200);
  assert.equal((await app.inject(`${V1}/lookup?medium=email&address=a@example.org`)).statusCode, 429);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_rate_limit_refusals_total', { limiter: 'lookup.rateLimit.perClient' }), 1);
  assert.equal(sample(text, 'unisd_http_requests_total', { route: `${V1}/lookup`, status: '429' }), 1);
});

test('mails sent and failed are counted by kind', async (t) => {
  const app = await started(t);
  const ask = (email: string) => app.inject({ method: 'POST', url: `${V1}/validate/email/requestToken`, payload: { client_secret: 'secret', email, send_attempt: 1 } });
  assert.equal((await ask('sent@example.org')).statusCode, 200);
  smtp.refused.add('refused@example.org');
  t.after(() => smtp.refused.delete('refused@example.org'));
  assert.equal((await ask('refused@example.org')).statusCode, 400);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_mails_sent_total', { kind: 'validation' }), 1);
  assert.equal(sample(text, 'unisd_mails_failed_total', { kind: 'validation' }), 1);
});

test('text messages sent and failed are counted by connector', async (t) => {
  const twilio = await new FakeTwilio().start();
  t.after(() => twilio.stop());
  const app = await started(t, { sms: twilio.smsConfig() });
  const auth = { authorization: `Bearer ${await app.accounts.issue('@alice:example.org')}` };
  const ask = (secret: string) => app.inject({ method: 'POST', url: `${V2}/validate/msisdn/requestToken`, headers: auth, payload: { client_secret: secret, country: 'GB', phone_number: '07700 900001', send_attempt: 1 } });
  assert.equal((await ask('one')).statusCode, 200);
  twilio.failure = { status: 500, code: 20500, message: 'Internal Server Error' };
  assert.equal((await ask('two')).statusCode, 400);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_sms_sent_total', { connector: 'twilio' }), 1);
  assert.equal(sample(text, 'unisd_sms_failed_total', { connector: 'twilio' }), 1);
});

test('the onbind queue depth is read from the store at each scrape', async (t) => {
  const app = await started(t);
  assert.equal(sample(await scrape(app), 'unisd_onbind_queue_depth'), 0);
  const now = Date.now();
  // Due in an hour: the worker leaves it queued.
  await app.store.onbind.enqueue({ id: 'd1', destination: 'hs.example', body: {}, attempts: 0, nextAttemptAt: now + 3_600_000, lastError: null, createdAt: now });
  assert.equal(sample(await scrape(app), 'unisd_onbind_queue_depth'), 1);
});

test('onbind delivery attempts are counted by outcome: delivered, retry, refused', async (t) => {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const app = await started(t, { federation: federationConfig, onbind: { initialBackoff: '1h', maxBackoff: '4h' } });
  const inviteAndBind = async (local: string) => {
    const invite = await app.inject({ method: 'POST', url: `${V1}/store-invite`, payload: { medium: 'email', address: `${local}@example.org`, room_id: `!${local}:example.org`, sender: '@bob:example.org' } });
    assert.equal(invite.statusCode, 200, invite.body);
    const session = await validatedEmailSession(app, smtp, `${local}@example.org`);
    const bind = await app.inject({ method: 'POST', url: `${V1}/3pid/bind`, payload: { sid: session.sid, client_secret: session.clientSecret, mxid: `@${local}:${hs.serverName}` } });
    assert.equal(bind.statusCode, 200, bind.body);
    await app.onbind.idle();
  };
  await inviteAndBind('delivered');
  hs.onbindStatus = 500;
  t.after(() => { hs.onbindStatus = 200; });
  await inviteAndBind('retried');
  hs.onbindStatus = 403;
  await inviteAndBind('refused');
  const text = await scrape(app);
  for (const outcome of ['delivered', 'retry', 'refused']) assert.equal(sample(text, 'unisd_onbind_attempts_total', { outcome }), 1, outcome);
  assert.equal(sample(text, 'unisd_onbind_attempts_total', { outcome: 'dropped' }), 0);
  assert.equal(sample(text, 'unisd_onbind_queue_depth'), 1, 'the retried one waits');
});

test('a gauge that cannot be read (store closed) leaves the other metrics served', async (t) => {
  const app = await started(t);
  await app.inject('/_unisd/health');
  await app.store.close();
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_http_requests_total', { route: '/_unisd/health' }), 1);
});

/** A hash-source provider of `count` email mappings, yielded `batch` at a time; `hold` set pauses it after its last batch. */
function directory(count: number, batch: number) {
  const control = { hold: null as null | { reached: () => void; release: Promise<void> } };
  const all = Array.from({ length: count }, (_, i) => ({ medium: 'email', address: `user${i}@example.org`, mxid: `@user${i}:example.org` }));
  const source: IdentityProvider = {
    name: 'directory', priority: 5, capabilities: { media: ['email'], bulk: true, hashSource: true },
    lookup: async () => null, bulkLookup: async () => [],
    async *mappings() {
      for (let i = 0; i < all.length; i += batch) yield all.slice(i, i + batch);
      const hold = control.hold;
      if (hold) {
        hold.reached();
        await hold.release;
      }
    },
  };
  return { source, control, all };
}

const specHash = (address: string, medium: string, pepper: string): string => createHash('sha256').update(`${address} ${medium} ${pepper}`).digest('base64url');

test('v2 lookups count the hashes and addresses asked and found, by algorithm', async (t) => {
  const { source } = directory(3, 3);
  const app = await started(t, {}, [async (server) => { server.providers.register(source); }]);
  await app.hashLookup!.rotation.ready;
  const auth = { authorization: `Bearer ${await app.accounts.issue('@asker:example.org')}` };
  const pepper = (await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: auth })).json().lookup_pepper;
  const hashed = await app.inject({ method: 'POST', url: `${V2}/lookup`, headers: auth, payload: { algorithm: 'sha256', pepper, addresses: [specHash('user0@example.org', 'email', pepper), specHash('user1@example.org', 'email', pepper), specHash('nobody@example.org', 'email', pepper)] } });
  assert.equal(Object.keys(hashed.json().mappings).length, 2, hashed.body);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_lookup_addresses_total', { api: 'v2', algorithm: 'sha256' }), 3);
  assert.equal(sample(text, 'unisd_lookup_hits_total', { api: 'v2', algorithm: 'sha256' }), 2);
  assert.doesNotMatch(text, new RegExp(pepper));
});

test('v2 lookups with algorithm none are counted under none', async (t) => {
  const app = await started(t, { memory: { enabled: true, identities: [{ username: 'dave', threepids: [{ medium: 'email', address: 'dave@example.org' }] }] }, matrix: { domain: 'example.org' } });
  await app.hashLookup!.rotation.ready;
  const auth = { authorization: `Bearer ${await app.accounts.issue('@asker:example.org')}` };
  const pepper = (await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: auth })).json().lookup_pepper;
  const res = await app.inject({ method: 'POST', url: `${V2}/lookup`, headers: auth, payload: { algorithm: 'none', pepper, addresses: ['dave@example.org email', 'eve@example.org email'] } });
  assert.deepEqual(res.json(), { mappings: { 'dave@example.org email': '@dave:example.org' } });
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_lookup_addresses_total', { api: 'v2', algorithm: 'none' }), 2);
  assert.equal(sample(text, 'unisd_lookup_hits_total', { api: 'v2', algorithm: 'none' }), 1);
});

test('lookup budget refusals are counted under the budget\'s config key', async (t) => {
  const app = await started(t, { lookup: { budget: { perToken: 2 } } });
  await app.hashLookup!.rotation.ready;
  const auth = { authorization: `Bearer ${await app.accounts.issue('@asker:example.org')}` };
  const pepper = (await app.inject({ method: 'GET', url: `${V2}/hash_details`, headers: auth })).json().lookup_pepper;
  const ask = () => app.inject({ method: 'POST', url: `${V2}/lookup`, headers: auth, payload: { algorithm: 'sha256', pepper, addresses: [specHash('a@example.org', 'email', pepper), specHash('b@example.org', 'email', pepper)] } });
  assert.equal((await ask()).statusCode, 200);
  assert.equal((await ask()).statusCode, 429);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_rate_limit_refusals_total', { limiter: 'lookup.budget.perToken' }), 1);
  assert.equal(sample(text, 'unisd_rate_limit_refusals_total', { limiter: 'lookup.budget.perUser' }), 0);
});

test('hash index entries and bytes (in_memory) follow the table: a bind adds its entry', async (t) => {
  const { source, all } = directory(50, 10);
  const app = await started(t, {}, [async (server) => { server.providers.register(source); }]);
  await app.hashLookup!.rotation.ready;
  const before = await scrape(app);
  assert.equal(sample(before, 'unisd_hash_index_entries', { table: 'current' }), all.length);
  assert.equal(sample(before, 'unisd_hash_index_entries', { table: 'alternate' }), 0);
  const bytes = sample(before, 'unisd_hash_index_bytes', { table: 'current' });
  assert.equal(bytes, app.hashLookup!.memory!.index(app.hashLookup!.rotation.pepper)!.bytes);
  assert.ok(bytes >= all.length * 32, 'at least a digest an entry');
  await app.hashLookup!.rotation.bound({ medium: 'email', address: 'new@example.org', mxid: '@new:example.org' });
  assert.equal(sample(await scrape(app), 'unisd_hash_index_entries', { table: 'current' }), all.length + 1);
});

test('hash index entries with sql tables are read from the store; no bytes of this process are reported', async (t) => {
  const { source, all } = directory(20, 10);
  const app = await started(t, { hashing: { hashStorageType: 'sql' } }, [async (server) => { server.providers.register(source); }]);
  await app.hashLookup!.rotation.ready;
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_hash_index_entries', { table: 'current' }), all.length);
  assert.equal(families(text).has('unisd_hash_index_bytes'), false);
});

test('a pepper rotation is counted and timed; the replaced table is counted as alternate; no pepper reaches a label', async (t) => {
  const { source, all } = directory(30, 10);
  const app = await started(t, { hashing: { delay: '1d' } }, [async (server) => { server.providers.register(source); }]);
  const rotation = app.hashLookup!.rotation;
  await rotation.ready;
  const first = rotation.pepper;
  await rotation.rotate();
  assert.notEqual(rotation.pepper, first);
  const text = await scrape(app);
  assert.equal(sample(text, 'unisd_pepper_rotations_total'), 1);
  assert.equal(sample(text, 'unisd_pepper_rotation_duration_seconds_count'), 1);
  assert.ok(sample(text, 'unisd_pepper_rotation_duration_seconds_sum') > 0);
  assert.equal(sample(text, 'unisd_hash_index_entries', { table: 'current' }), all.length);
  assert.equal(sample(text, 'unisd_hash_index_entries', { table: 'alternate' }), all.length, 'the replaced pepper stays accepted');
  assert.doesNotMatch(text, new RegExp(`${first}|${rotation.pepper}`));
});

test('a table build under way shows its progress (entries hashed against those expected), and 0 once done', async (t) => {
  const batch = 10;
  // More batches than the builder keeps in flight (a batch per worker thread, and one), whatever the machine.
  const { source, control, all } = directory((availableParallelism() + 10) * batch, batch);
  const app = await started(t, { hashing: { delay: '1d' } }, [async (server) => { server.providers.register(source); }]);
  const rotation = app.hashLookup!.rotation;
  await rotation.ready;
  const idle = await scrape(app);
  assert.equal(sample(idle, 'unisd_rehash_hashed_entries'), 0);
  assert.equal(sample(idle, 'unisd_rehash_expected_entries'), 0);

  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    control.hold = { reached: resolve, release: new Promise<void>((done) => { release = done; }) };
  });
  const rotating = rotation.rotate();
  await reached; // every batch handed out; the builder keeps the last (threads + 1) in flight
  const during = await scrape(app);
  assert.equal(sample(during, 'unisd_rehash_expected_entries'), all.length, 'the current table\'s size');
  const inFlight = (app.workers.threads + 1) * batch;
  assert.equal(sample(during, 'unisd_rehash_hashed_entries'), all.length - inFlight);
  release();
  await rotating;
  const done = await scrape(app);
  assert.equal(sample(done, 'unisd_rehash_hashed_entries'), 0);
  assert.equal(sample(done, 'unisd_rehash_expected_entries'), 0);
  assert.equal(sample(done, 'unisd_hash_index_entries', { table: 'current' }), all.length);
});

test('process and event-loop metrics are served', async (t) => {
  const app = await started(t);
  const declared = families(await scrape(app));
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
    assert.ok(declared.has(name), name);
  }
});
