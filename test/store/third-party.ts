/** Conformance of ThirdPartyMappingStore (MSC4004 snapshots per member and pepper), run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW } from './fixtures.js';

/** Begins, writes in numbered chunks and commits a snapshot. */
async function push(store: Store, server: string, pepper: string, snapshot: string, chunks: string[][], at = NOW): Promise<void> {
  assert.equal(await store.thirdParty.begin(server, pepper, snapshot), true);
  for (const [i, chunk] of chunks.entries()) assert.equal(await store.thirdParty.write(server, pepper, snapshot, i, chunk), i + 1);
  assert.equal(await store.thirdParty.commit(server, pepper, snapshot, chunks.length, at), 'committed');
}

const sorted = (found: Record<string, string[]>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)).map(([server, hashes]) => [server, [...hashes].sort()]));

async function visible(store: Store, server: string, pepper: string): Promise<string[]> {
  const all: string[] = [];
  for await (const batch of store.thirdParty.visibleHashes(server, pepper)) all.push(...batch);
  return all.sort();
}

export function thirdPartySuite(store: () => Store): void {
  it('a snapshot is invisible until committed, then replaces the previous one whole', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['h1', 'h2'], ['h2', 'h3']]);
    await push(store(), 'two.org', 'p1', 's1', [['h3']]);
    await push(store(), 'two.org', 'p2', 's1', [['h1']]);
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['h1', 'h2', 'h3', 'h4'])), { 'one.org': ['h1', 'h2', 'h3'], 'two.org': ['h3'] });
    assert.deepEqual(await visible(store(), 'one.org', 'p1'), ['h1', 'h2', 'h3']);

    await store().thirdParty.begin('one.org', 'p1', 's2');
    await store().thirdParty.write('one.org', 'p1', 's2', 0, ['h4']);
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['h1', 'h4'])), { 'one.org': ['h1'] }, 'the unfinished snapshot is invisible');
    assert.deepEqual(await visible(store(), 'one.org', 'p1'), ['h1', 'h2', 'h3']);
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', 1, NOW + 5), 'committed');
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['h1', 'h2', 'h3', 'h4'])), { 'one.org': ['h4'], 'two.org': ['h3'] }, 'hashes left out disappear');
    assert.deepEqual(await visible(store(), 'one.org', 'p1'), ['h4']);
    assert.deepEqual(await store().thirdParty.lookup('p2', ['h1', 'h3']), { 'two.org': ['h1'] }, 'other peppers untouched');
    assert.deepEqual(await store().thirdParty.lookup('p1', []), {});
    assert.deepEqual(await visible(store(), 'three.org', 'p1'), []);
  });

  it('chunks sent again are kept once; a committed, unknown or superseded snapshot takes no more writes', async () => {
    await store().thirdParty.begin('one.org', 'p1', 's1');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's1', 0, ['h1', 'h2']), 1);
    assert.equal(await store().thirdParty.begin('one.org', 'p1', 's1'), true);
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's1', 0, ['h1', 'h2']), 1, 'the same chunk again counts once');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's1', 1, NOW), 'committed');
    assert.deepEqual(await store().thirdParty.members(), [{ server: 'one.org', pepper: 'p1', snapshot: 's1', pushedAt: NOW, size: 2 }]);
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's1', 1, ['late']), null, 'committed');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's1', 1, NOW), 'unknown', 'committed already');
    assert.equal(await store().thirdParty.begin('one.org', 'p1', 's1'), false, 'the visible snapshot is not reopened');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's1', 0, ['late']), null);
    assert.equal(await store().thirdParty.write('one.org', 'p1', 'never-begun', 0, ['x']), null);

    await store().thirdParty.begin('one.org', 'p1', 's2');
    await store().thirdParty.write('one.org', 'p1', 's2', 0, ['old-attempt']);
    await store().thirdParty.begin('one.org', 'p1', 's3');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's2', 1, ['x']), null, 'a new snapshot discards the unfinished one');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', 1, NOW), 'unknown');
    await store().thirdParty.write('one.org', 'p1', 's3', 0, ['h9']);
    await store().thirdParty.commit('one.org', 'p1', 's3', 1, NOW + 1);
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1', 'old-attempt', 'h9']), { 'one.org': ['h9'] });
  });

  it('commits only when exactly chunks 0..n-1 arrived, in any order; an incomplete snapshot stays open', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['old']]);
    await store().thirdParty.begin('one.org', 'p1', 's2');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's2', 2, ['c']), 1);
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's2', 0, ['a']), 2);
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', 3, NOW + 1), 'incomplete', 'chunk 1 is missing');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', 2, NOW + 1), 'incomplete', 'chunk 2 lies past the end');
    assert.deepEqual(await store().thirdParty.lookup('p1', ['old', 'a', 'c']), { 'one.org': ['old'] }, 'nothing of it is visible');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's2', 1, ['b']), 3);
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', 3, NOW + 1), 'committed');
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['old', 'a', 'b', 'c'])), { 'one.org': ['a', 'b', 'c'] });
  });

  it('an empty snapshot empties what the member declared', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['h1']]);
    await push(store(), 'one.org', 'p1', 's2', [[]]);
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), {});
    assert.deepEqual(await store().thirdParty.members(), [{ server: 'one.org', pepper: 'p1', snapshot: 's2', pushedAt: NOW, size: 0 }]);
  });

  it('tracks each member\'s last push per pepper; drops a member, and retired peppers', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['h1']], NOW);
    await push(store(), 'one.org', 'p2', 's1', [['h1', 'h2']], NOW + 10);
    await push(store(), 'two.org', 'p1', 's1', [['h1']], NOW + 20);
    await store().thirdParty.begin('two.org', 'p2', 'pending');
    assert.deepEqual(await store().thirdParty.members(), [
      { server: 'one.org', pepper: 'p1', snapshot: 's1', pushedAt: NOW, size: 1 },
      { server: 'one.org', pepper: 'p2', snapshot: 's1', pushedAt: NOW + 10, size: 2 },
      { server: 'two.org', pepper: 'p1', snapshot: 's1', pushedAt: NOW + 20, size: 1 },
    ]);

    await store().thirdParty.dropServer('two.org');
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), { 'one.org': ['h1'] });
    assert.equal(await store().thirdParty.write('two.org', 'p2', 'pending', 0, ['x']), null, 'its unfinished snapshot went too');
    assert.equal(await store().thirdParty.begin('two.org', 'p1', 's1'), true, 'a dropped snapshot can be pushed again');

    await store().thirdParty.retainPeppers(['p2']);
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), {});
    assert.deepEqual(await store().thirdParty.members(), [{ server: 'one.org', pepper: 'p2', snapshot: 's1', pushedAt: NOW + 10, size: 2 }]);
    assert.equal(await store().thirdParty.write('two.org', 'p1', 's1', 0, ['x']), null, 'unfinished snapshots of retired peppers go too');
    await store().thirdParty.retainPeppers([]);
    assert.deepEqual(await store().thirdParty.members(), []);
  });

  it('looks up and lists more than one batch of a large snapshot', async () => {
    const many = Array.from({ length: 25_000 }, (_, i) => `m${i}`);
    await push(store(), 'two.org', 'p1', 's1', [many.slice(0, 12_000), many.slice(12_000)]);
    assert.equal((await store().thirdParty.lookup('p1', [...many.slice(0, 2500), 'absent']))['two.org']?.length, 2500);
    assert.equal((await store().thirdParty.members())[0]?.size, 25_000);
    let batches = 0;
    const listed = new Set<string>();
    for await (const batch of store().thirdParty.visibleHashes('two.org', 'p1')) {
      batches++;
      for (const hash of batch) listed.add(hash);
    }
    assert.ok(batches > 1, 'read in several batches');
    assert.equal(listed.size, 25_000);
  });

  it('never treats a non-string argument as a query', async () => {
    const operator = { $ne: 'nothing' } as unknown as string;
    await push(store(), 'one.org', 'p1', 's1', [['h1']]);
    await assert.rejects(store().thirdParty.lookup(operator, ['h1']));
    await assert.rejects(store().thirdParty.dropServer(operator));
    await assert.rejects(async () => { for await (const _ of store().thirdParty.visibleHashes(operator, 'p1')); });
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), { 'one.org': ['h1'] });
  });
}
