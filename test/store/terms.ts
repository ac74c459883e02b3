/** Conformance of TermsStore: accepted policies, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { OPERATOR } from './fixtures.js';

export function termsSuite(store: () => Store): void {
  it('accumulates accepted policies per user without duplicates', async () => {
    await store().terms.accept('@a:example.org', [{ policy: 'tos', version: '1.0' }]);
    await store().terms.accept('@a:example.org', [{ policy: 'privacy', version: '2' }, { policy: 'tos', version: '1.0' }, { policy: 'tos', version: '1.1' }]);
    await store().terms.accept('@a:example.org', []);
    await store().terms.accept('@b:example.org', [{ policy: 'tos', version: '9' }]);
    assert.deepEqual(await store().terms.accepted('@a:example.org'), [
      { policy: 'privacy', version: '2' }, { policy: 'tos', version: '1.0' }, { policy: 'tos', version: '1.1' },
    ]);
    assert.deepEqual(await store().terms.accepted('@b:example.org'), [{ policy: 'tos', version: '9' }]);
    assert.deepEqual(await store().terms.accepted('@nobody:example.org'), []);
  });

  it('forgets what one user accepted, and nothing of other users', async () => {
    await store().terms.accept('@a:example.org', [{ policy: 'privacy', version: '1.0' }, { policy: 'privacy', version: '2.0' }, { policy: 'tos', version: '1' }]);
    await store().terms.accept('@b:example.org', [{ policy: 'privacy', version: '1.0' }]);
    assert.equal(await store().terms.forget('@a:example.org'), 3);
    assert.deepEqual(await store().terms.accepted('@a:example.org'), []);
    assert.deepEqual(await store().terms.accepted('@b:example.org'), [{ policy: 'privacy', version: '1.0' }]);
    assert.equal(await store().terms.forget('@a:example.org'), 0);
    await assert.rejects(store().terms.forget(OPERATOR));
  });
}
