/** Conformance of OnbindStore: the 3pid/onbind queue, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW, OPERATOR, delivery } from './fixtures.js';

export function onbindSuite(store: () => Store): void {
  it('counts the queued deliveries, due or not', async () => {
    assert.equal(await store().onbind.count(), 0);
    await store().onbind.enqueue(delivery('a', NOW - 10));
    await store().onbind.enqueue(delivery('b', NOW + 3_600_000));
    assert.equal(await store().onbind.count(), 2);
    await store().onbind.delete('a');
    assert.equal(await store().onbind.count(), 1);
  });

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

  it('gets one delivery by id', async () => {
    await store().onbind.enqueue(delivery('a', NOW));
    assert.deepEqual(await store().onbind.get('a'), delivery('a', NOW));
    assert.equal(await store().onbind.get('missing'), null);
    await assert.rejects(store().onbind.get(OPERATOR));
  });

  it('deletes the deliveries about a Matrix ID or a 3PID (read from their bodies), and no others', async () => {
    const about = (id: string, body: Record<string, unknown>) => ({ ...delivery(id, NOW), body });
    await store().onbind.enqueue(about('alice-mail', { medium: 'email', address: 'alice@example.com', mxid: '@alice:example.org', invites: [] }));
    await store().onbind.enqueue(about('alice-phone', { medium: 'msisdn', address: '15551234567', mxid: '@alice:example.org' }));
    await store().onbind.enqueue(about('carol-was-alice', { medium: 'email', address: 'alice@example.com', mxid: '@carol:example.org' }));
    await store().onbind.enqueue(about('bob', { medium: 'email', address: 'bob@example.com', mxid: '@bob:example.org', invites: [{ sender: '@alice:example.org' }] }));
    await store().onbind.enqueue(about('same-address-other-medium', { medium: 'msisdn', address: 'alice@example.com', mxid: '@dan:example.org' }));
    await store().onbind.enqueue(about('no-fields', { other: true }));
    await assert.rejects(store().onbind.deleteConcerning({}));
    assert.equal(await store().onbind.deleteConcerning({ mxid: '@alice:example.org' }), 2);
    assert.equal(await store().onbind.deleteConcerning({ threepid: { medium: 'email', address: 'alice@example.com' } }), 1);
    assert.deepEqual((await store().onbind.due(NOW, 10)).map((d) => d.id).sort(), ['bob', 'no-fields', 'same-address-other-medium']);
    assert.equal(await store().onbind.deleteConcerning({ mxid: '@bob:example.org', threepid: { medium: 'msisdn', address: 'alice@example.com' } }), 2);
    assert.deepEqual((await store().onbind.due(NOW, 10)).map((d) => d.id), ['no-fields']);
    await assert.rejects(store().onbind.deleteConcerning({ mxid: OPERATOR }));
  });
}
