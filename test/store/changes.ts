/** Conformance of ChangeLog: what instances sharing a store tell each other, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, StoreChange } from '../../core/store/port.js';
import { NOW } from './fixtures.js';

const bind = (n: number): StoreChange => ({ kind: 'bind', medium: 'email', address: `user${n}@example.org`, mxid: `@user${n}:example.org` });

export function changesSuite(store: () => Store): void {
  it('is empty at first: latest() is 0 and nothing comes after it', async () => {
    assert.equal(await store().changes.latest(), 0);
    assert.deepEqual(await store().changes.readAfter(0, 10), []);
  });

  it('appends with increasing seqs and reads after a cursor, lowest first, at most limit', async () => {
    const rotated: StoreChange = { kind: 'pepper-rotated', pepper: 'p2', previous: 'p1', since: 3 };
    const seqs = [
      await store().changes.append('instance-a', bind(1), NOW),
      await store().changes.append('instance-b', rotated, NOW + 1),
      await store().changes.append('instance-a', bind(2), NOW + 2),
    ];
    assert.ok(seqs[0] > 0 && seqs[0] < seqs[1] && seqs[1] < seqs[2], `increasing: ${seqs}`);
    assert.equal(await store().changes.latest(), seqs[2]);
    assert.deepEqual(await store().changes.readAfter(0, 10), [
      { seq: seqs[0], origin: 'instance-a', change: bind(1), at: NOW },
      { seq: seqs[1], origin: 'instance-b', change: rotated, at: NOW + 1 },
      { seq: seqs[2], origin: 'instance-a', change: bind(2), at: NOW + 2 },
    ]);
    assert.deepEqual((await store().changes.readAfter(seqs[0], 1)).map((r) => r.seq), [seqs[1]]);
    assert.deepEqual(await store().changes.readAfter(seqs[2], 10), []);
    assert.deepEqual(await store().changes.readAfter(0, 0), []);
  });

  it('concurrent appends get distinct seqs, all read back in seq order', async () => {
    const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => store().changes.append(`instance-${i % 3}`, bind(i), NOW + i)));
    assert.equal(new Set(seqs).size, 20);
    const read = await store().changes.readAfter(0, 100);
    assert.deepEqual(read.map((r) => r.seq), [...seqs].sort((a, b) => a - b));
    for (const record of read) assert.deepEqual(record.change, bind(seqs.indexOf(record.seq)));
  });

  it('deleteBefore removes older records; later seqs keep increasing, never reused', async () => {
    const first = await store().changes.append('a', bind(1), NOW);
    const second = await store().changes.append('a', bind(2), NOW + 10);
    await store().changes.deleteBefore(NOW + 10);
    assert.deepEqual((await store().changes.readAfter(0, 10)).map((r) => r.seq), [second]);
    await store().changes.deleteBefore(NOW + 11);
    const third = await store().changes.append('a', bind(3), NOW + 20);
    assert.ok(third > second && second > first);
    assert.deepEqual((await store().changes.readAfter(0, 10)).map((r) => r.seq), [third]);
  });

  it('wakes a watcher after an append, and no longer once it stopped watching', async () => {
    let wakes = 0;
    let woken!: () => void;
    const first = new Promise<void>((resolve) => { woken = resolve; });
    const stop = await store().changes.watch(() => { wakes++; woken(); });
    await store().changes.append('a', bind(1), NOW);
    await first;
    await stop();
    const before = wakes;
    await store().changes.append('a', bind(2), NOW);
    await store().changes.readAfter(0, 10); // a round trip: a hint in flight would have arrived
    assert.equal(wakes, before);
  });

  it('keeps a change\'s strings as values (quotes, operators, non-ASCII)', async () => {
    const odd: StoreChange = { kind: 'bind', medium: 'email', address: "o'brien+$ne@exämple.org", mxid: '@{"$gt":""}:example.org' };
    const seq = await store().changes.append("origin'; DROP TABLE changes; --", odd, NOW);
    assert.deepEqual(await store().changes.readAfter(seq - 1, 1), [{ seq, origin: "origin'; DROP TABLE changes; --", change: odd, at: NOW }]);
  });
}
