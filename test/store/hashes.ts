/** Conformance of PepperStore and HashTableStore (sql): the lookup pepper and hash tables, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { HashEntry, Store } from '../../core/store/port.js';
import { NOW, pepperState, entries, sortBy, deferred } from './fixtures.js';

export function hashesSuite(store: () => Store): void {
  it('swaps the pepper state only from the expected pepper', async () => {
    assert.equal(await store().peppers.getPepperState(), null);
    assert.equal(await store().peppers.swapPepperState('p0', pepperState('p1')), false, 'no state yet: only null is expected');
    assert.equal(await store().peppers.swapPepperState(null, pepperState('p1', { requestCount: 3 })), true);
    assert.equal(await store().peppers.swapPepperState(null, pepperState('p-late')), false, 'the first instance won');
    assert.deepEqual(await store().peppers.getPepperState(), pepperState('p1', { requestCount: 3 }));

    const next = pepperState('p2', { altPeppers: ['p1'], rotatedAt: NOW + 10 });
    assert.equal(await store().peppers.swapPepperState('p1', next), true);
    assert.equal(await store().peppers.swapPepperState('p1', pepperState('p3', { altPeppers: ['p1'] })), false, 'stale expected pepper');
    assert.deepEqual(await store().peppers.getPepperState(), next);
  });

  it('counts lookups served with the current pepper only', async () => {
    assert.equal(await store().peppers.incrementPepperRequests('p1'), 0);
    await store().peppers.swapPepperState(null, pepperState('p1'));
    assert.equal(await store().peppers.incrementPepperRequests('p1'), 1);
    assert.equal(await store().peppers.incrementPepperRequests('p1'), 2);
    assert.equal(await store().peppers.incrementPepperRequests('stale'), 0);
    assert.equal((await store().peppers.getPepperState())?.requestCount, 2);
    await Promise.all(Array.from({ length: 20 }, () => store().peppers.incrementPepperRequests('p1')));
    assert.equal((await store().peppers.getPepperState())?.requestCount, 22);
  });

  it('replaces hash tables whole and looks up more than 500 hashes', async () => {
    assert.deepEqual(await store().hashes.lookup('p1', ['h1']), [], 'no table yet');
    await store().hashes.replace('p1', [entries(600), entries(600, 'x')]);
    await store().hashes.replace('p2', [entries(3, 'other')]);
    const asked = [...Array.from({ length: 1000 }, (_, i) => `h${i}`), 'x5', 'h7', 'other1'];
    const found = await store().hashes.lookup('p1', asked);
    assert.equal(found.length, 601);
    assert.deepEqual(found.find((e) => e.hash === 'h599'), { hash: 'h599', mxid: '@user599:example.org' });
    assert.deepEqual(await store().hashes.lookup('p1', []), []);

    await store().hashes.replace('p1', [[{ hash: 'h1', mxid: '@new:example.org' }, { hash: 'fresh', mxid: '@fresh:example.org' }]]);
    assert.deepEqual(sortBy(await store().hashes.lookup('p1', ['h1', 'h2', 'fresh', 'x5']), (e) => e.hash), [
      { hash: 'fresh', mxid: '@fresh:example.org' }, { hash: 'h1', mxid: '@new:example.org' },
    ]);
    assert.deepEqual(await store().hashes.lookup('p2', ['other2', 'h1']), [{ hash: 'other2', mxid: '@user2:example.org' }], 'other peppers untouched');

    await store().hashes.replace('p1', []);
    assert.deepEqual(await store().hashes.lookup('p1', ['h1', 'fresh']), [], 'an empty replacement empties the table');
  });

  it('keeps lookups on the previous table until a replacement completes, and after one fails', async () => {
    await store().hashes.replace('p1', [entries(10, 'old')]);
    const gate = deferred();
    const written = deferred();
    async function* slowEntries(): AsyncIterable<HashEntry[]> {
      yield entries(10, 'new');
      written.resolve();
      await gate.promise;
      yield entries(5, 'late');
    }
    const replacing = store().hashes.replace('p1', slowEntries());
    await written.promise;
    assert.equal((await store().hashes.lookup('p1', ['old0', 'old9', 'new0'])).length, 2, 'old table whole, new one invisible');
    gate.resolve();
    await replacing;
    assert.deepEqual((await store().hashes.lookup('p1', ['old0', 'new0', 'new9', 'late4'])).map((e) => e.hash).sort(), ['late4', 'new0', 'new9']);

    async function* failing(): AsyncIterable<HashEntry[]> {
      yield entries(3, 'broken');
      throw new Error('provider went away');
    }
    await assert.rejects(store().hashes.replace('p1', failing()), /provider went away/);
    assert.deepEqual((await store().hashes.lookup('p1', ['new0', 'broken0'])).map((e) => e.hash), ['new0']);
  });

  it('a replacement whose table retain() dropped meanwhile fails and publishes nothing', async () => {
    await store().hashes.replace('p1', [entries(3, 'old')]);
    const gate = deferred();
    const written = deferred();
    async function* slowEntries(): AsyncIterable<HashEntry[]> {
      yield entries(10, 'first');
      written.resolve();
      await gate.promise;
      yield entries(5, 'second');
    }
    const replacing = store().hashes.replace('p1', slowEntries());
    await written.promise;
    await store().hashes.retain([]);
    gate.resolve();
    await assert.rejects(replacing, /dropped by retain\(\) while being written/);
    assert.deepEqual(await store().hashes.lookup('p1', ['old0', 'first0', 'first9', 'second0']), [], 'no partial table');
    await store().hashes.replace('p1', [entries(2, 'new')]);
    assert.deepEqual((await store().hashes.lookup('p1', ['new1', 'first0', 'second4'])).map((e) => e.hash), ['new1'], 'later replacements work');
  });

  it('retain drops the hash tables of unlisted peppers', async () => {
    await store().hashes.replace('p1', [entries(2)]);
    await store().hashes.replace('p2', [entries(2)]);
    await store().hashes.replace('p3', [entries(2)]);
    await store().hashes.retain(['p2', 'p3']);
    assert.deepEqual(await store().hashes.lookup('p1', ['h0']), []);
    assert.equal((await store().hashes.lookup('p2', ['h0', 'h1'])).length, 2);
    assert.equal((await store().hashes.lookup('p3', ['h0'])).length, 1);
    await store().hashes.retain([]);
    assert.deepEqual(await store().hashes.lookup('p2', ['h0']), []);
    assert.deepEqual(await store().hashes.lookup('p3', ['h0']), []);
  });

  it('adds and removes single entries of the current table (a bind, an unbind), and counts them', async () => {
    assert.equal(await store().hashes.size('p1'), 0);
    await store().hashes.add('p1', [{ hash: 'lonely', mxid: '@a:example.org' }]);
    assert.deepEqual(await store().hashes.lookup('p1', ['lonely']), [], 'no table for p1: nothing to add to');
    await store().hashes.replace('p1', [entries(3)]);
    await store().hashes.replace('p2', [entries(2)]);
    assert.equal(await store().hashes.size('p1'), 3);

    await store().hashes.add('p1', [{ hash: 'new', mxid: '@new:example.org' }, { hash: 'h0', mxid: '@rebound:example.org' }]);
    assert.deepEqual(sortBy(await store().hashes.lookup('p1', ['new', 'h0', 'h1']), (e) => e.hash), [
      { hash: 'h0', mxid: '@rebound:example.org' }, { hash: 'h1', mxid: '@user1:example.org' }, { hash: 'new', mxid: '@new:example.org' },
    ]);
    assert.equal(await store().hashes.size('p1'), 4);

    await store().hashes.remove('p1', [{ hash: 'h1', mxid: '@someone-else:example.org' }]);
    assert.equal((await store().hashes.lookup('p1', ['h1'])).length, 1, 'an entry is removed only for its own mxid');
    await store().hashes.remove('p1', [{ hash: 'h1', mxid: '@user1:example.org' }, { hash: 'new', mxid: '@new:example.org' }, { hash: 'absent', mxid: '@x:example.org' }]);
    assert.deepEqual(await store().hashes.lookup('p1', ['h1', 'new']), []);
    assert.equal(await store().hashes.size('p1'), 2);
    assert.equal(await store().hashes.size('p2'), 2, 'other peppers untouched');
  });

  it('a hash repeated in a replacement keeps its first mxid', async () => {
    await store().hashes.replace('p1', [[{ hash: 'dup', mxid: '@first:example.org' }], [{ hash: 'dup', mxid: '@second:example.org' }]]);
    assert.deepEqual(await store().hashes.lookup('p1', ['dup']), [{ hash: 'dup', mxid: '@first:example.org' }]);
    assert.equal(await store().hashes.size('p1'), 1);
  });
}
