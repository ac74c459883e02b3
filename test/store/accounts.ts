/** Conformance of AccountTokenStore: identity access tokens, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW, OPERATOR } from './fixtures.js';

export function accountsSuite(store: () => Store): void {
  it('stores account tokens and purges expired ones, never those without expiry', async () => {
    await store().accounts.put({ tokenHash: 'forever', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
    await store().accounts.put({ tokenHash: 'expired', userId: '@b:example.org', createdAt: NOW, expiresAt: NOW - 1 });
    await store().accounts.put({ tokenHash: 'live', userId: '@c:example.org', createdAt: NOW, expiresAt: NOW + 1 });
    assert.deepEqual(await store().accounts.get('forever'), { tokenHash: 'forever', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
    assert.deepEqual(await store().accounts.get('live'), { tokenHash: 'live', userId: '@c:example.org', createdAt: NOW, expiresAt: NOW + 1 });
    assert.equal(await store().accounts.get('missing'), null);

    assert.equal(await store().accounts.deleteBefore(NOW), 1);
    assert.equal(await store().accounts.get('expired'), null);
    assert.notEqual(await store().accounts.get('live'), null);
    assert.equal(await store().accounts.deleteBefore(Number.MAX_SAFE_INTEGER), 1);
    assert.notEqual(await store().accounts.get('forever'), null);

    await store().accounts.delete('forever');
    assert.equal(await store().accounts.get('forever'), null);
  });

  it('never treats a non-string argument as a query', async () => {
    await store().accounts.put({ tokenHash: 'th', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
    await assert.rejects(store().accounts.get(OPERATOR));
    await assert.rejects(store().accounts.delete(OPERATOR));
    assert.notEqual(await store().accounts.get('th'), null);
  });

  it('keeps a user\'s newest account tokens and deletes the oldest beyond the cap, other users untouched', async () => {
    for (let i = 0; i < 5; i++) await store().accounts.put({ tokenHash: `capped-${i}`, userId: '@many:example.org', createdAt: NOW + i, expiresAt: null });
    await store().accounts.put({ tokenHash: 'other-user', userId: '@other:example.org', createdAt: NOW - 10, expiresAt: null });
    assert.equal(await store().accounts.deleteOldest('@many:example.org', 3), 2);
    for (const [i, kept] of [[0, false], [1, false], [2, true], [3, true], [4, true]] as const) {
      assert.equal(await store().accounts.get(`capped-${i}`) !== null, kept, `capped-${i}`);
    }
    assert.notEqual(await store().accounts.get('other-user'), null);
    assert.equal(await store().accounts.deleteOldest('@many:example.org', 3), 0);
    assert.equal(await store().accounts.deleteOldest('@nobody:example.org', 0), 0);
  });

  it('lists one user\'s tokens newest first and deletes them all, leaving other users\' tokens', async () => {
    await store().accounts.put({ tokenHash: 'old', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
    await store().accounts.put({ tokenHash: 'new', userId: '@a:example.org', createdAt: NOW + 1, expiresAt: NOW + 5 });
    await store().accounts.put({ tokenHash: 'expired', userId: '@a:example.org', createdAt: NOW - 1, expiresAt: NOW - 1 });
    await store().accounts.put({ tokenHash: 'other', userId: '@b:example.org', createdAt: NOW, expiresAt: null });
    assert.deepEqual(await store().accounts.byUser('@a:example.org'), [
      { tokenHash: 'new', userId: '@a:example.org', createdAt: NOW + 1, expiresAt: NOW + 5 },
      { tokenHash: 'old', userId: '@a:example.org', createdAt: NOW, expiresAt: null },
      { tokenHash: 'expired', userId: '@a:example.org', createdAt: NOW - 1, expiresAt: NOW - 1 },
    ]);
    assert.equal(await store().accounts.deleteByUser('@a:example.org'), 3);
    assert.deepEqual(await store().accounts.byUser('@a:example.org'), []);
    assert.equal(await store().accounts.deleteByUser('@a:example.org'), 0);
    assert.notEqual(await store().accounts.get('other'), null);
    await assert.rejects(store().accounts.byUser(OPERATOR));
    await assert.rejects(store().accounts.deleteByUser(OPERATOR));
  });
}
