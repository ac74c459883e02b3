/**
 * Configured durations past setTimeout's limit (2^31-1 ms, 24.8 days): Node would fire such a
 * timer after 1 ms (node:test's fake timers do the same), so these chain shorter ones. The fake
 * clock schedules a timer set during a tick from the end of that tick, so the tests tick to each
 * leg's end exactly (legs of 2^31-1 ms, then the rest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testApp } from './helpers/app.js';
import { MAX_TIMER_DELAY, setLongInterval, setLongTimeout } from '../core/timers.js';

const DAY = 86_400_000;
/** Purges run after taking their lease from the store: let that finish before counting calls. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

test('validation.purgeInterval: 30d purges every 30 days, not every millisecond', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_800_000_000_000 });
  const app = await testApp({ validation: { purgeInterval: '30d' } });
  t.after(() => app.close());
  const sessions = t.mock.method(app.store.sessions, 'deleteBefore');
  const tokens = t.mock.method(app.store.accounts, 'deleteBefore');
  const invites = t.mock.method(app.store.invites, 'deleteBefore');
  t.mock.timers.tick(60_000);
  assert.equal(sessions.mock.callCount(), 0, 'nothing in the first minute');
  t.mock.timers.tick(MAX_TIMER_DELAY - 60_000);
  t.mock.timers.tick(30 * DAY - MAX_TIMER_DELAY - 1);
  await settled();
  assert.equal(sessions.mock.callCount(), 0);
  t.mock.timers.tick(1);
  await settled();
  assert.deepEqual([sessions, tokens, invites].map((job) => job.mock.callCount()), [1, 1, 1]);
  t.mock.timers.tick(MAX_TIMER_DELAY);
  t.mock.timers.tick(30 * DAY - MAX_TIMER_DELAY);
  await settled();
  assert.deepEqual([sessions, tokens, invites].map((job) => job.mock.callCount()), [2, 2, 2]);
});

test('setLongTimeout fires once, after the whole delay, however long; clear() stops it', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let fired = 0;
  setLongTimeout(() => fired++, 2 * MAX_TIMER_DELAY + 5);
  t.mock.timers.tick(MAX_TIMER_DELAY);
  t.mock.timers.tick(MAX_TIMER_DELAY);
  t.mock.timers.tick(4);
  assert.equal(fired, 0);
  t.mock.timers.tick(1);
  assert.equal(fired, 1);
  t.mock.timers.tick(10 * MAX_TIMER_DELAY);
  assert.equal(fired, 1, 'once');

  const cleared = setLongTimeout(() => fired++, MAX_TIMER_DELAY + 1);
  t.mock.timers.tick(MAX_TIMER_DELAY);
  cleared.clear();
  t.mock.timers.tick(MAX_TIMER_DELAY);
  assert.equal(fired, 1, 'cleared between two legs');
});

test('setLongInterval repeats at its interval until cleared', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  let fired = 0;
  const interval = setLongInterval(() => fired++, 40 * DAY);
  for (let round = 1; round <= 3; round++) {
    t.mock.timers.tick(MAX_TIMER_DELAY);
    t.mock.timers.tick(40 * DAY - MAX_TIMER_DELAY - 1);
    assert.equal(fired, round - 1);
    t.mock.timers.tick(1);
    assert.equal(fired, round);
  }
  interval.clear();
  t.mock.timers.tick(80 * DAY);
  assert.equal(fired, 3);
});
