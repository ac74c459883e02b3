import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { RateLimiter, consumeAll, requesterKey } from '../core/rate-limit.js';
import { MatrixError } from '../core/errors.js';
import { LocalLimitStore } from '../core/limit-stores/local.js';
import { RedisLimitStore } from '../core/limit-stores/redis.js';
import type { LimitStore } from '../core/limit-stores/store.js';

const MINUTE = 60_000;
const redisUri = process.env.UNISD_TEST_REDIS_URI;
const silent = pino({ level: 'silent' });
const limited = (retryAfterMs: number) => (err: MatrixError) =>
  err.statusCode === 429 && err.errcode === 'M_LIMIT_EXCEEDED' && (err.toJSON() as { retry_after_ms: number }).retry_after_ms === retryAfterMs;

/** The token bucket's behaviour, whichever store keeps the budgets. */
function bucketSuite(store: () => LimitStore): void {
  // Redis keeps budgets between runs: every limiter gets a name of its own.
  const limiter = (limit: number, window: number) => new RateLimiter(limit, window, { name: `test-${randomBytes(6).toString('hex')}`, store: store() });

  test('a key may spend its whole budget at once, then one unit every window / limit', async () => {
    const l = limiter(3, 60 * MINUTE);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await l.consume('a', 1, t0);
    assert.equal(await l.retryAfter('a', 1, t0), 20 * MINUTE);
    assert.equal(await l.retryAfter('b', 1, t0), 0, 'other keys have their own budget');
    await assert.rejects(l.consume('a', 1, t0 + 20 * MINUTE - 1), limited(1));
    await l.consume('a', 1, t0 + 20 * MINUTE);
    assert.equal(await l.retryAfter('a', 1, t0 + 20 * MINUTE), 20 * MINUTE);
    assert.equal(await l.retryAfter('a', 3, t0 + 80 * MINUTE), 0, 'full again one window after the last spend');
  });

  test('costs: a request spends one unit per item; one larger than the budget waits for a full budget and is then admitted', async () => {
    const l = limiter(100, 100 * MINUTE); // one unit a minute
    const t0 = Date.now();
    await l.consume('client', 60, t0);
    assert.equal(await l.retryAfter('client', 40, t0), 0);
    assert.equal(await l.retryAfter('client', 41, t0), MINUTE, 'one unit short');
    await l.consume('client', 40, t0);
    assert.equal(await l.retryAfter('client', 250, t0), 100 * MINUTE, 'more than the budget: until it is full');
    await l.consume('client', 250, t0 + 100 * MINUTE);
    assert.equal(await l.retryAfter('client', 1, t0 + 100 * MINUTE), 151 * MINUTE, 'then the excess is paid for');
  });

  test('record spends past the limit: the wait grows by the cost', async () => {
    const l = limiter(2, 2 * MINUTE);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await l.record('a', 1, t0);
    assert.equal(await l.retryAfter('a', 1, t0), 2 * MINUTE);
  });

  test('consumeAll spends from every budget or, when one lacks its cost, from none', async () => {
    const perToken = limiter(10, 10 * MINUTE);
    const perUser = limiter(3, 3 * MINUTE);
    const t0 = Date.now();
    await consumeAll([[perToken, 't', 2], [perUser, 'u', 2]], t0);
    await assert.rejects(consumeAll([[perToken, 't', 2], [perUser, 'u', 2]], t0), limited(MINUTE));
    assert.equal(await perToken.retryAfter('t', 8, t0), 0, 'the refused request spent nothing from perToken');
    await consumeAll([[perToken, 't', 1], [perUser, 'u', 1]], t0);
    assert.equal(await perUser.retryAfter('u', 1, t0), MINUTE);
  });
}

describe('rate limits counted locally', () => bucketSuite(() => new LocalLimitStore()));

describe('rate limits counted in Redis', { skip: redisUri ? undefined : 'set UNISD_TEST_REDIS_URI (redis://127.0.0.1:6379) to run it' }, () => {
  const stores: RedisLimitStore[] = [];
  const open = async () => {
    const store = new RedisLimitStore({ uri: redisUri!, timeout: 1000, prefix: 'unisd-test:rl:', log: silent });
    stores.push(store);
    await store.ready();
    return store;
  };
  after(() => Promise.all(stores.map((s) => s.close())));
  let shared: RedisLimitStore;
  before(async () => { shared = await open(); });
  bucketSuite(() => shared);

  test('two instances share one budget: what one spent the other cannot, and concurrent takes never overspend', async () => {
    const name = `shared-${randomBytes(6).toString('hex')}`;
    const [a, b] = (await Promise.all([open(), open()])).map((store) => new RateLimiter(10, 10 * MINUTE, { name, store }));
    const now = Date.now();
    await a.consume('client', 7, now);
    await assert.rejects(b.consume('client', 4, now), limited(MINUTE));
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).consume('client', 1, now)));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 3, 'exactly the 3 units left');
  });

  test('keys are hashed: no address reaches Redis', async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis(redisUri!);
    try {
      await new RateLimiter(5, MINUTE, { name: 'validation.rateLimit.perAddress', store: shared }).consume('email:alice@example.org');
      const keys = await client.keys('unisd-test:rl:*');
      assert.ok(keys.length > 0);
      assert.ok(keys.every((key) => !key.includes('alice') && !key.includes('perAddress')), keys.join(' '));
    } finally {
      client.disconnect();
    }
  });
});

test('Redis unreachable: limits are counted in the process instead (neither lifted nor refusing everyone), each fallback reported', async () => {
  let fallbacks = 0;
  const store = new RedisLimitStore({ uri: 'redis://127.0.0.1:1', timeout: 200, prefix: 'unisd:rl:', log: silent, onFallback: () => { fallbacks++; } });
  after(() => store.close());
  const limiter = new RateLimiter(3, 3 * MINUTE, { name: 'validation.rateLimit.perRequester', store });
  const now = Date.now();
  for (let i = 0; i < 3; i++) await limiter.consume('192.0.2.1', 1, now);
  await assert.rejects(limiter.consume('192.0.2.1', 1, now), limited(MINUTE));
  await limiter.consume('192.0.2.2', 1, now);
  assert.ok(fallbacks >= 5, `${fallbacks} fallbacks`);
});

test('rateLimit.store redis without rateLimit.redis.uri: one line naming the key', () => {
  assert.throws(() => new RedisLimitStore({ uri: '', timeout: 200, prefix: 'unisd:rl:', log: silent }), { message: 'rateLimit.redis.uri: required when rateLimit.store is redis' });
});

test('a limit of 0 is unlimited and remembers nothing', async () => {
  const store = new LocalLimitStore();
  const limiter = new RateLimiter(0, MINUTE, { name: 'test', store });
  for (let i = 0; i < 1000; i++) await limiter.consume(`k${i}`, 1000);
  assert.equal(store.size('test'), 0);
});

test('memory is bounded: rotating keys evict the least recently active ones, never grow past maxKeys', async () => {
  const store = new LocalLimitStore(1000);
  const limiter = new RateLimiter(1, MINUTE, { name: 'test', store });
  const now = 1_000_000;
  for (let i = 0; i < 10_000; i++) {
    await limiter.consume(`spoofed-${i}`, 1, now);
    if (i % 100 === 0) await limiter.record('active', 1, now); // a key that keeps acting stays remembered
  }
  assert.equal(store.size('test'), 1000);
  assert.ok(await limiter.retryAfter('active', 1, now) > 0, 'a recently active key is still limited');
  assert.ok(await limiter.retryAfter('spoofed-9999', 1, now) > 0);
  assert.equal(await limiter.retryAfter('spoofed-0', 1, now), 0, 'the least recently active were forgotten');
});

test('the default bound holds for a flood of distinct keys, per limiter', async () => {
  const store = new LocalLimitStore();
  const limiter = new RateLimiter(5, MINUTE, { name: 'test', store });
  const other = new RateLimiter(5, MINUTE, { name: 'other', store });
  for (let i = 0; i < 150_000; i++) await limiter.consume(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 1, 0);
  await other.consume('a', 1, 0);
  assert.equal(store.size('test'), 100_000);
  assert.equal(store.size('other'), 1);
});

test('sweep forgets keys whose budget is full again', async () => {
  const store = new LocalLimitStore();
  const limiter = new RateLimiter(2, MINUTE, { name: 'test', store });
  await limiter.consume('a', 1, 0);
  await limiter.consume('b', 2, 0);
  await limiter.sweep(MINUTE / 2);
  assert.equal(store.size('test'), 1, 'a (refilled after 30 s) is gone, b (after 60 s) stays');
});

test('requester keys: an IPv4 address, an IPv6 /64', () => {
  assert.equal(requesterKey('192.0.2.7'), '192.0.2.7');
  assert.equal(requesterKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(requesterKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(requesterKey('2001:db8::1'), '2001:db8:0:0::/64');
});
