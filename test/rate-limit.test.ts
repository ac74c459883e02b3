import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, requesterKey } from '../core/rate-limit.js';
import { MatrixError } from '../core/errors.js';

const MINUTE = 60_000;

test('a key may spend its whole budget at once, then one unit every window / limit', () => {
  const limiter = new RateLimiter(3, 60 * MINUTE);
  const t0 = 1_000_000;
  for (let i = 0; i < 3; i++) limiter.consume('a', 1, t0);
  assert.equal(limiter.retryAfter('a', 1, t0), 20 * MINUTE);
  assert.equal(limiter.retryAfter('b', 1, t0), 0, 'other keys have their own budget');
  assert.throws(() => limiter.consume('a', 1, t0 + 20 * MINUTE - 1), (err: MatrixError) =>
    err.statusCode === 429 && err.errcode === 'M_LIMIT_EXCEEDED' && (err.toJSON() as { retry_after_ms: number }).retry_after_ms === 1);
  limiter.consume('a', 1, t0 + 20 * MINUTE);
  assert.equal(limiter.retryAfter('a', 1, t0 + 20 * MINUTE), 20 * MINUTE);
  assert.equal(limiter.retryAfter('a', 3, t0 + 80 * MINUTE), 0, 'full again one window after the last spend');
});

test('costs: a request spends one unit per item; one larger than the budget waits for a full budget and is then admitted', () => {
  const limiter = new RateLimiter(100, 100 * MINUTE); // one unit a minute
  const t0 = 5_000_000;
  limiter.consume('client', 60, t0);
  assert.equal(limiter.retryAfter('client', 40, t0), 0);
  assert.equal(limiter.retryAfter('client', 41, t0), MINUTE, 'one unit short');
  limiter.consume('client', 40, t0);
  assert.equal(limiter.retryAfter('client', 250, t0), 100 * MINUTE, 'more than the budget: until it is full');
  limiter.consume('client', 250, t0 + 100 * MINUTE);
  assert.equal(limiter.retryAfter('client', 1, t0 + 100 * MINUTE), 151 * MINUTE, 'then the excess is paid for');
});

test('a limit of 0 is unlimited and remembers nothing', () => {
  const limiter = new RateLimiter(0, MINUTE);
  for (let i = 0; i < 1000; i++) limiter.consume(`k${i}`, 1000);
  assert.equal(limiter.size, 0);
});

test('memory is bounded: rotating keys evict the least recently active ones, never grow past maxKeys', () => {
  const limiter = new RateLimiter(1, MINUTE, 1000);
  const now = 1_000_000;
  for (let i = 0; i < 10_000; i++) {
    limiter.consume(`spoofed-${i}`, 1, now);
    if (i % 100 === 0) limiter.record('active', 1, now); // a key that keeps acting stays remembered
  }
  assert.equal(limiter.size, 1000);
  assert.ok(limiter.retryAfter('active', 1, now) > 0, 'a recently active key is still limited');
  assert.ok(limiter.retryAfter('spoofed-9999', 1, now) > 0);
  assert.equal(limiter.retryAfter('spoofed-0', 1, now), 0, 'the least recently active were forgotten');
});

test('the default bound holds for a flood of distinct keys', () => {
  const limiter = new RateLimiter(5, MINUTE);
  for (let i = 0; i < 150_000; i++) limiter.consume(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 1, 0);
  assert.equal(limiter.size, 100_000);
});

test('sweep forgets keys whose budget is full again', () => {
  const limiter = new RateLimiter(2, MINUTE);
  limiter.consume('a', 1, 0);
  limiter.consume('b', 2, 0);
  limiter.sweep(MINUTE / 2);
  assert.equal(limiter.size, 1, 'a (refilled after 30 s) is gone, b (after 60 s) stays');
});

test('requester keys: an IPv4 address, an IPv6 /64', () => {
  assert.equal(requesterKey('192.0.2.7'), '192.0.2.7');
  assert.equal(requesterKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(requesterKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(requesterKey('2001:db8::1'), '2001:db8:0:0::/64');
});
