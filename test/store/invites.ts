/** Conformance of InviteStore: pending invites and ephemeral keys, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW, OPERATOR, invite } from './fixtures.js';

export function invitesSuite(store: () => Store): void {
  it('finds pending invites for a 3PID, excluding expired and delivered ones', async () => {
    await store().invites.put(invite('t-late', { createdAt: NOW + 2 }));
    await store().invites.put(invite('t-early', { createdAt: NOW + 1 }));
    await store().invites.put(invite('t-expired', { expiresAt: NOW - 1 }));
    await store().invites.put(invite('t-edge', { expiresAt: NOW }));
    await store().invites.put(invite('t-other', { address: 'carol@example.com' }));
    assert.deepEqual(await store().invites.get('t-early'), invite('t-early', { createdAt: NOW + 1 }));
    assert.equal(await store().invites.get('missing'), null);

    const found = await store().invites.find('email', 'bob@example.com', NOW);
    assert.deepEqual(found.map((i) => i.token), ['t-early', 't-late']);
    assert.deepEqual(found[0]?.fields, { room_name: 'Lounge', 'dotted.key': 1, $dollar: 'kept as data' });

    await store().invites.markDelivered([], NOW);
    await store().invites.markDelivered(['t-early', 't-other', 'missing'], NOW + 5);
    assert.deepEqual((await store().invites.find('email', 'bob@example.com', NOW)).map((i) => i.token), ['t-late']);
    assert.deepEqual(await store().invites.find('email', 'carol@example.com', NOW), []);
    assert.equal((await store().invites.get('t-early'))?.deliveredAt, NOW + 5, 'a delivered invite is still found by its token');
    assert.equal((await store().invites.get('t-late'))?.deliveredAt, null);
    await store().invites.delete('t-late');
    await store().invites.delete('missing');
    assert.equal(await store().invites.get('t-late'), null);
    assert.notEqual(await store().invites.get('t-early'), null);
  });

  it('purges expired invites and ephemeral keys; ephemeral keys are valid until they expire', async () => {
    await store().invites.put(invite('t-expired', { expiresAt: NOW - 1 }));
    await store().invites.put(invite('t-live', { expiresAt: NOW + 1 }));
    await store().invites.putEphemeralKey('key-old', NOW - 1);
    await store().invites.putEphemeralKey('key-live', NOW + 1);

    assert.equal(await store().invites.isEphemeralKeyValid('key-live', NOW), true);
    assert.equal(await store().invites.isEphemeralKeyValid('key-live', NOW + 1), false, 'invalid once expiresAt is reached');
    assert.equal(await store().invites.isEphemeralKeyValid('key-old', NOW), false);
    assert.equal(await store().invites.isEphemeralKeyValid('unknown', NOW), false);
    await store().invites.putEphemeralKey('key-old', NOW + 50);
    assert.equal(await store().invites.isEphemeralKeyValid('key-old', NOW), true, 'putting again re-dates the key');
    await store().invites.putEphemeralKey('key-old', NOW - 1);

    assert.equal(await store().invites.deleteBefore(NOW), 1);
    assert.equal(await store().invites.get('t-expired'), null);
    assert.notEqual(await store().invites.get('t-live'), null);
    assert.equal(await store().invites.isEphemeralKeyValid('key-live', NOW), true);
    await store().invites.putEphemeralKey('key-probe', NOW + 5);
    assert.equal(await store().invites.deleteBefore(NOW + 10), 1);
    assert.equal(await store().invites.isEphemeralKeyValid('key-probe', NOW), false, 'expired keys are purged with invites');
  });

  it('lists stored invites by 3PID, by sender or both, pending, delivered and expired alike, oldest first, limited', async () => {
    await store().invites.put(invite('t-2', { createdAt: NOW + 2 }));
    await store().invites.put(invite('t-1', { createdAt: NOW + 1, deliveredAt: NOW + 3 }));
    await store().invites.put(invite('t-expired', { createdAt: NOW, expiresAt: NOW - 1 }));
    await store().invites.put(invite('t-carol', { address: 'carol@example.com', createdAt: NOW + 4 }));
    await store().invites.put(invite('t-dan', { sender: '@dan:example.org', createdAt: NOW + 5 }));
    const tokens = async (filter: Parameters<Store['invites']['list']>[0], limit = 10) => (await store().invites.list(filter, limit)).map((i) => i.token);
    const bob = { medium: 'email', address: 'bob@example.com' };
    assert.deepEqual(await tokens({ threepid: bob }), ['t-expired', 't-1', 't-2', 't-dan']);
    assert.deepEqual(await tokens({ sender: '@alice:example.org' }), ['t-expired', 't-1', 't-2', 't-carol']);
    assert.deepEqual(await tokens({ threepid: bob, sender: '@dan:example.org' }), ['t-dan']);
    assert.deepEqual(await tokens({}), ['t-expired', 't-1', 't-2', 't-carol', 't-dan']);
    assert.deepEqual(await tokens({}, 2), ['t-expired', 't-1']);
    assert.deepEqual(await tokens({}, 0), []);
    assert.deepEqual(await tokens({ threepid: { medium: 'msisdn', address: 'bob@example.com' } }), []);
    assert.deepEqual((await store().invites.list({ sender: '@dan:example.org' }, 10))[0], invite('t-dan', { sender: '@dan:example.org', createdAt: NOW + 5 }));
    await assert.rejects(store().invites.list({ sender: OPERATOR }, 10));
  });

  it('deletes the invites matching a 3PID or a sender, and refuses an empty filter', async () => {
    await store().invites.put(invite('t-1', { deliveredAt: NOW }));
    await store().invites.put(invite('t-2', { expiresAt: NOW - 1 }));
    await store().invites.put(invite('t-carol', { address: 'carol@example.com' }));
    await store().invites.put(invite('t-dan', { sender: '@dan:example.org', address: 'carol@example.com' }));
    await assert.rejects(store().invites.deleteMatching({}));
    assert.equal(await store().invites.deleteMatching({ threepid: { medium: 'email', address: 'bob@example.com' } }), 2);
    assert.deepEqual((await store().invites.list({}, 10)).map((i) => i.token).sort(), ['t-carol', 't-dan']);
    assert.equal(await store().invites.deleteMatching({ sender: '@alice:example.org' }), 1);
    assert.deepEqual((await store().invites.list({}, 10)).map((i) => i.token), ['t-dan']);
    assert.equal(await store().invites.deleteMatching({ sender: '@alice:example.org' }), 0);
    await assert.rejects(store().invites.deleteMatching({ sender: OPERATOR }));
    assert.equal((await store().invites.list({}, 10)).length, 1);
  });
}
