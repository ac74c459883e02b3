/** Conformance of SessionStore: validation sessions, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW, session, OPERATOR } from './fixtures.js';

export function sessionsSuite(store: () => Store): void {
  it('creates, finds, updates and deletes validation sessions', async () => {
    await store().sessions.create(session({ nextLink: 'https://example.org/next' }));
    await store().sessions.create(session({ sid: 'sid-2', clientSecret: 'secret-2' }));
    assert.deepEqual(await store().sessions.get('sid-1'), session({ nextLink: 'https://example.org/next' }));
    assert.equal(await store().sessions.get('nope'), null);
    assert.equal((await store().sessions.find('email', 'alice@example.com', 'secret-2'))?.sid, 'sid-2');
    assert.equal(await store().sessions.find('msisdn', 'alice@example.com', 'secret-2'), null);
    assert.equal(await store().sessions.find('email', 'alice@example.com', 'other'), null);

    await store().sessions.update('sid-1', { tokenHash: 'th-2', sendAttempt: 2, validatedAt: NOW + 5, updatedAt: NOW + 5, nextLink: undefined });
    assert.deepEqual(await store().sessions.get('sid-1'), session({
      nextLink: 'https://example.org/next', tokenHash: 'th-2', sendAttempt: 2, validatedAt: NOW + 5, updatedAt: NOW + 5,
    }));
    await store().sessions.update('sid-1', { nextLink: null });
    assert.equal((await store().sessions.get('sid-1'))?.nextLink, null);
    await store().sessions.update('sid-1', {});
    assert.equal((await store().sessions.get('sid-2'))?.tokenHash, 'th-1', 'other sessions untouched');

    await store().sessions.delete('sid-2');
    assert.equal(await store().sessions.get('sid-2'), null);
    assert.notEqual(await store().sessions.get('sid-1'), null);
  });

  it('refuses a second session with the same sid or the same (medium, address, client secret)', async () => {
    await store().sessions.create(session());
    await assert.rejects(store().sessions.create(session({ sid: 'sid-other' })));
    await assert.rejects(store().sessions.create(session({ clientSecret: 'other' })));
    assert.equal((await store().sessions.get('sid-1'))?.clientSecret, 'secret-1');
    assert.equal(await store().sessions.get('sid-other'), null);
  });

  it('purges sessions last updated before the cut-off only', async () => {
    await store().sessions.create(session({ sid: 'old', clientSecret: 'a', updatedAt: NOW - 10 }));
    await store().sessions.create(session({ sid: 'edge', clientSecret: 'b', updatedAt: NOW }));
    await store().sessions.create(session({ sid: 'new', clientSecret: 'c', createdAt: NOW - 100, updatedAt: NOW + 10 }));
    assert.equal(await store().sessions.deleteBefore(NOW), 1);
    assert.equal(await store().sessions.get('old'), null);
    assert.notEqual(await store().sessions.get('edge'), null);
    assert.notEqual(await store().sessions.get('new'), null);
    assert.equal(await store().sessions.deleteBefore(NOW), 0);
  });

  it('never treats a non-string argument as a query', async () => {
    await store().sessions.create(session());
    await assert.rejects(store().sessions.get(OPERATOR));
    await assert.rejects(store().sessions.find('email', OPERATOR, OPERATOR));
    assert.notEqual(await store().sessions.get('sid-1'), null);
  });

  it('deletes every session of one 3PID, validated or not, and leaves other 3PIDs\' sessions', async () => {
    await store().sessions.create(session());
    await store().sessions.create(session({ sid: 'sid-2', clientSecret: 'secret-2', validatedAt: NOW }));
    await store().sessions.create(session({ sid: 'sid-3', clientSecret: 'secret-3', address: 'bob@example.com' }));
    await store().sessions.create(session({ sid: 'sid-4', clientSecret: 'secret-4', medium: 'msisdn', address: 'alice@example.com' }));
    assert.equal(await store().sessions.deleteFor('email', 'alice@example.com'), 2);
    assert.equal(await store().sessions.get('sid-1'), null);
    assert.equal(await store().sessions.get('sid-2'), null);
    assert.notEqual(await store().sessions.get('sid-3'), null);
    assert.notEqual(await store().sessions.get('sid-4'), null, 'same address, other medium');
    assert.equal(await store().sessions.deleteFor('email', 'alice@example.com'), 0);
    await assert.rejects(store().sessions.deleteFor('email', OPERATOR));
  });
}
