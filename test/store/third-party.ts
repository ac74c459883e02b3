/** Conformance of ThirdPartyMappingStore (MSC4004 snapshots per member and pepper), run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW } from './fixtures.js';

/** Begins, writes in chunks and commits a snapshot. */
async function push(store: Store, server: string, pepper: string, snapshot: string, chunks: string[][], at = NOW): Promise<void> {
  await store.thirdParty.begin(server, pepper, snapshot);
  for (const chunk of chunks) assert.equal(await store.thirdParty.write(server, pepper, snapshot, chunk), true);
  assert.equal(await store.thirdParty.commit(server, pepper, snapshot, at), true);
}

const sorted = (found: Record<string, string[]>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)).map(([server, hashes]) => [server, [...hashes].sort()]));

export function thirdPartySuite(store: () => Store): void {
  it('a snapshot is invisible until committed, then replaces the previous one whole', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['h1', 'h2'], ['h2', 'h3']]);
    await push(store(), 'two.org', 'p1', 's1', [['h3']]);
    await push(store(), 'two.org', 'p2', 's1', [['h1']]);
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['h1', 'h2', 'h3', 'h4'])), { 'one.org': ['h1', 'h2', 'h3'], 'two.org': ['h3'] });

    await store().thirdParty.begin('one.org', 'p1', 's2');
    await store().thirdParty.write('one.org', 'p1', 's2', ['h4']);
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['h1', 'h4'])), { 'one.org': ['h1'] }, 'the unfinished snapshot is invisible');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', NOW + 5), true);
    assert.deepEqual(sorted(await store().thirdParty.lookup('p1', ['h1', 'h2', 'h3', 'h4'])), { 'one.org': ['h4'], 'two.org': ['h3'] }, 'hashes left out disappear');
    assert.deepEqual(await store().thirdParty.lookup('p2', ['h1', 'h3']), { 'two.org': ['h1'] }, 'other peppers untouched');
    assert.deepEqual(await store().thirdParty.lookup('p1', []), {});
  });

  it('chunks sent again are kept once; a committed, unknown or superseded snapshot takes no more writes', async () => {
    await store().thirdParty.begin('one.org', 'p1', 's1');
    await store().thirdParty.write('one.org', 'p1', 's1', ['h1', 'h2']);
    await store().thirdParty.begin('one.org', 'p1', 's1');
    await store().thirdParty.write('one.org', 'p1', 's1', ['h1', 'h2']);
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's1', NOW), true);
    assert.deepEqual(await store().thirdParty.members(), [{ server: 'one.org', pepper: 'p1', pushedAt: NOW, size: 2 }]);
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's1', ['late']), false, 'committed');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's1', NOW), false, 'committed already');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 'never-begun', ['x']), false);

    await store().thirdParty.begin('one.org', 'p1', 's2');
    await store().thirdParty.write('one.org', 'p1', 's2', ['old-attempt']);
    await store().thirdParty.begin('one.org', 'p1', 's3');
    assert.equal(await store().thirdParty.write('one.org', 'p1', 's2', ['x']), false, 'a new snapshot discards the unfinished one');
    assert.equal(await store().thirdParty.commit('one.org', 'p1', 's2', NOW), false);
    await store().thirdParty.write('one.org', 'p1', 's3', ['h9']);
    await store().thirdParty.commit('one.org', 'p1', 's3', NOW + 1);
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1', 'old-attempt', 'h9']), { 'one.org': ['h9'] });
  });

  it('an empty snapshot empties what the member declared', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['h1']]);
    await push(store(), 'one.org', 'p1', 's2', []);
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), {});
    assert.deepEqual(await store().thirdParty.members(), [{ server: 'one.org', pepper: 'p1', pushedAt: NOW, size: 0 }]);
  });

  it('tracks each member\'s last push per pepper; drops a member, and retired peppers', async () => {
    await push(store(), 'one.org', 'p1', 's1', [['h1']], NOW);
    await push(store(), 'one.org', 'p2', 's1', [['h1', 'h2']], NOW + 10);
    await push(store(), 'two.org', 'p1', 's1', [['h1']], NOW + 20);
    await store().thirdParty.begin('two.org', 'p2', 'pending');
    assert.deepEqual(await store().thirdParty.members(), [
      { server: 'one.org', pepper: 'p1', pushedAt: NOW, size: 1 },
      { server: 'one.org', pepper: 'p2', pushedAt: NOW + 10, size: 2 },
      { server: 'two.org', pepper: 'p1', pushedAt: NOW + 20, size: 1 },
    ]);

    await store().thirdParty.dropServer('two.org');
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), { 'one.org': ['h1'] });
    assert.equal(await store().thirdParty.write('two.org', 'p2', 'pending', ['x']), false, 'its unfinished snapshot went too');

    await store().thirdParty.retainPeppers(['p2']);
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), {});
    assert.deepEqual(await store().thirdParty.members(), [{ server: 'one.org', pepper: 'p2', pushedAt: NOW + 10, size: 2 }]);
    await store().thirdParty.retainPeppers([]);
    assert.deepEqual(await store().thirdParty.members(), []);
  });

  it('looks up more than 1000 hashes of a large snapshot', async () => {
    const many = Array.from({ length: 2500 }, (_, i) => `m${i}`);
    await push(store(), 'two.org', 'p1', 's1', [many.slice(0, 1200), many.slice(1200)]);
    assert.equal((await store().thirdParty.lookup('p1', [...many, 'absent']))['two.org']?.length, 2500);
    assert.equal((await store().thirdParty.members())[0]?.size, 2500);
  });

  it('never treats a non-string argument as a query', async () => {
    const operator = { $ne: 'nothing' } as unknown as string;
    await push(store(), 'one.org', 'p1', 's1', [['h1']]);
    await assert.rejects(store().thirdParty.lookup(operator, ['h1']));
    await assert.rejects(store().thirdParty.dropServer(operator));
    assert.deepEqual(await store().thirdParty.lookup('p1', ['h1']), { 'one.org': ['h1'] });
  });
}
