/** Conformance of OnbindStore: the 3pid/onbind queue, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW, delivery } from './fixtures.js';

export function onbindSuite(store: () => Store): void {
  it('queues onbind deliveries: due ones earliest first, rescheduled, deleted', async () => {
    await store().onbind.enqueue(delivery('c', NOW + 5));
    await store().onbind.enqueue(delivery('a', NOW - 10));
    await store().onbind.enqueue(delivery('b', NOW));
    await store().onbind.enqueue(delivery('future', NOW + 1000));
    assert.deepEqual((await store().onbind.due(NOW + 5, 10)).map((d) => d.id), ['a', 'b', 'c']);
    assert.deepEqual((await store().onbind.due(NOW + 5, 2)).map((d) => d.id), ['a', 'b']);
    assert.deepEqual(await store().onbind.due(NOW + 5, 0), []);
    assert.deepEqual((await store().onbind.due(NOW, 10))[0], delivery('a', NOW - 10));

    await store().onbind.reschedule('a', 1, NOW + 100, 'connection refused');
    const due = await store().onbind.due(NOW + 100, 10);
    assert.deepEqual(due.map((d) => d.id), ['b', 'c', 'a']);
    assert.deepEqual(due[2], { ...delivery('a', NOW + 100), attempts: 1, lastError: 'connection refused' });

    await store().onbind.delete('b');
    assert.deepEqual((await store().onbind.due(NOW + 2000, 10)).map((d) => d.id), ['c', 'a', 'future']);
  });

  it('queues a delivery once per id: the same id again leaves the queued one as it is', async () => {
    await store().onbind.enqueue(delivery('same', NOW));
    await store().onbind.reschedule('same', 1, NOW + 100, 'HTTP 500');
    await store().onbind.enqueue({ ...delivery('same', NOW), body: { other: true } });
    assert.deepEqual(await store().onbind.due(NOW + 1000, 10), [{ ...delivery('same', NOW + 100), attempts: 1, lastError: 'HTTP 500' }]);
  });

  it('claims due onbind deliveries once: a claim leases them until leaseUntil', async () => {
    await store().onbind.enqueue(delivery('late', NOW - 1, NOW + 1));
    await store().onbind.enqueue(delivery('early', NOW - 10));
    await store().onbind.enqueue(delivery('future', NOW + 1000));
    assert.deepEqual(await store().onbind.claim(NOW, NOW + 60, 0), []);
    const claimed = await store().onbind.claim(NOW, NOW + 60, 10);
    assert.deepEqual(claimed.map((d) => d.id).sort(), ['early', 'late']);
    assert.ok(claimed.every((d) => d.nextAttemptAt === NOW + 60 && d.attempts === 0));
    assert.deepEqual(await store().onbind.claim(NOW, NOW + 60, 10), [], 'a second claimer gets nothing while the lease runs');
    const again = await store().onbind.claim(NOW + 60, NOW + 120, 1);
    assert.equal(again.length, 1, 'after the lease, a delivery can be claimed again (its claimer died), limit respected');
    await Promise.all(['early', 'late'].map((id) => store().onbind.delete(id)));
    assert.deepEqual((await store().onbind.due(NOW + 2000, 10)).map((d) => d.id), ['future']);
  });
}
