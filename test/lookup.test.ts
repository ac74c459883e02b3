import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';

const V1 = '/_matrix/identity/api/v1';
const HOUR = 3_600_000;

const identities = [{ username: '@frank:example.org', threepids: [{ medium: 'email', address: 'frank@example.org' }] }];

async function setup(t: TestContext, overrides: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = await testApp({ memory: { enabled: true, identities }, ...overrides });
  t.after(() => app.close());
  return app;
}

const lookup = (app: FastifyInstance, remoteAddress = '192.0.2.1', address = 'frank@example.org') =>
  app.inject({ method: 'GET', url: `${V1}/lookup?medium=email&address=${encodeURIComponent(address)}`, remoteAddress });

const bulk = (app: FastifyInstance, count: number, remoteAddress = '192.0.2.1') => app.inject({
  method: 'POST', url: `${V1}/bulk_lookup`, remoteAddress,
  payload: { threepids: Array.from({ length: count }, (_, i) => ['email', i === 0 ? 'frank@example.org' : `u${i}@example.org`]) },
});

test('bulk_lookup asks at most hashing.maxAddresses (default 10,000, sydent\'s limit) addresses: more is 400 M_TOO_LARGE', async (t) => {
  const app = await setup(t);
  const tooMany = await bulk(app, 10_001);
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().errcode, 'M_TOO_LARGE');
  assert.match(tooMany.json().error, /at most 10000 addresses/);

  const small = await setup(t, { hashing: { maxAddresses: 3 } });
  assert.equal((await bulk(small, 4)).json().errcode, 'M_TOO_LARGE');
  const ok = await bulk(small, 3);
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { threepids: [['email', 'frank@example.org', '@frank:example.org']] });
});

test('v1 lookup and bulk_lookup spend one budget per client network, one unit per address: 429 M_LIMIT_EXCEEDED past it, refilled over the window', async (t) => {
  const app = await setup(t, { lookup: { rateLimit: { perClient: 5, window: '1h' } } });
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());

  assert.equal((await lookup(app)).statusCode, 200);
  assert.equal((await lookup(app)).statusCode, 200);
  assert.equal((await bulk(app, 3)).statusCode, 200);
  const single = await lookup(app);
  assert.equal(single.statusCode, 429);
  assert.equal(single.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.equal(single.json().retry_after_ms, HOUR / 5, 'one address refills every window / perClient');
  const bulkLimited = await bulk(app, 2);
  assert.equal(bulkLimited.statusCode, 429);
  assert.equal(bulkLimited.json().retry_after_ms, 2 * HOUR / 5);

  assert.equal((await lookup(app, '192.0.2.2')).statusCode, 200, 'another client has its own budget');
  assert.equal((await bulk(app, 5, '2001:db8:1:2::1')).statusCode, 200);
  assert.equal((await lookup(app, '2001:db8:1:2::99')).statusCode, 429, 'an IPv6 /64 is one client');

  mock.timers.tick(HOUR / 5);
  assert.equal((await lookup(app)).statusCode, 200);
  assert.equal((await lookup(app)).statusCode, 429);
});

test('a bulk lookup larger than the whole budget is answered when the budget is full, then waits for its cost', async (t) => {
  const app = await setup(t, { lookup: { rateLimit: { perClient: 4, window: '1h' } } });
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  assert.equal((await bulk(app, 6)).statusCode, 200);
  const after = await lookup(app);
  assert.equal(after.statusCode, 429);
  assert.equal(after.json().retry_after_ms, (6 + 1 - 4) * HOUR / 4);
});
