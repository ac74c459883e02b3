/** Conformance of LeaseStore: single-holder work, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW } from './fixtures.js';

export function leasesSuite(store: () => Store): void {
  it('gives a free lease to the first holder and refuses it to another until it expires', async () => {
    assert.equal(await store().leases.acquire('rotation', 'a', 1000, NOW), true);
    assert.equal(await store().leases.acquire('rotation', 'b', 1000, NOW + 999), false);
    assert.equal(await store().leases.acquire('rotation', 'b', 1000, NOW + 1000), true, 'expired at NOW + 1000');
    assert.equal(await store().leases.acquire('rotation', 'a', 1000, NOW + 1001), false, 'now b holds it');
  });

  it('renews a lease for its holder: the new expiry counts', async () => {
    assert.equal(await store().leases.acquire('purge', 'a', 1000, NOW), true);
    assert.equal(await store().leases.acquire('purge', 'a', 1000, NOW + 900), true);
    assert.equal(await store().leases.acquire('purge', 'b', 1000, NOW + 1500), false, 'renewed until NOW + 1900');
    assert.equal(await store().leases.acquire('purge', 'b', 1000, NOW + 1900), true);
  });

  it('release frees the lease only for its holder', async () => {
    await store().leases.acquire('rotation', 'a', 60_000, NOW);
    await store().leases.release('rotation', 'b');
    assert.equal(await store().leases.acquire('rotation', 'b', 1000, NOW + 1), false, 'b could not release a\'s lease');
    await store().leases.release('rotation', 'a');
    assert.equal(await store().leases.acquire('rotation', 'b', 1000, NOW + 1), true);
    await store().leases.release('never-taken', 'a');
  });

  it('keeps leases of different names apart', async () => {
    assert.equal(await store().leases.acquire('one', 'a', 1000, NOW), true);
    assert.equal(await store().leases.acquire('two', 'b', 1000, NOW), true);
  });

  it('of many concurrent takers of a free lease, exactly one gets it', async () => {
    const holders = Array.from({ length: 8 }, (_, i) => `holder-${i}`);
    const got = await Promise.all(holders.map((holder) => store().leases.acquire('contested', holder, 1000, NOW)));
    assert.equal(got.filter(Boolean).length, 1);
  });

  it('takes names and holders as values, never as query operators', async () => {
    assert.equal(await store().leases.acquire("x' OR '1'='1", '{"$ne":null}', 1000, NOW), true);
    assert.equal(await store().leases.acquire("x' OR '1'='1", 'other', 1000, NOW), false);
  });
}
