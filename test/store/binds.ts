/** Conformance of BindStore: binds, run against every backend by test/store.test.ts. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../core/store/port.js';
import { NOW, association, OPERATOR } from './fixtures.js';

export function bindsSuite(store: () => Store): void {
  it('stores a bind, replaces it on rebind, and deletes it only for the matching mxid', async () => {
    await store().binds.put(association('alice@example.com', '@alice:one.org'));
    assert.deepEqual(await store().binds.get('email', 'alice@example.com'), association('alice@example.com', '@alice:one.org'));
    const rebind = association('alice@example.com', '@alice:two.org', { ts: NOW + 1 });
    await store().binds.put(rebind);
    assert.deepEqual(await store().binds.get('email', 'alice@example.com'), rebind);
    assert.equal(await store().binds.get('msisdn', 'alice@example.com'), null);

    assert.equal(await store().binds.delete('email', 'alice@example.com', '@alice:one.org'), false);
    assert.deepEqual(await store().binds.get('email', 'alice@example.com'), rebind);
    assert.equal(await store().binds.delete('email', 'alice@example.com', '@alice:two.org'), true);
    assert.equal(await store().binds.get('email', 'alice@example.com'), null);
    assert.equal(await store().binds.delete('email', 'alice@example.com', '@alice:two.org'), false);
  });

  it('stores many binds at once, each replacing the bind of its 3PID as put does', async () => {
    await store().binds.put(association('kept@example.com', '@kept:one.org'));
    await store().binds.put(association('replaced@example.com', '@old:one.org'));
    await store().binds.putMany([]);
    const many = [
      association('replaced@example.com', '@new:two.org', { ts: NOW + 1 }),
      ...Array.from({ length: 1500 }, (_, i) => association(`many${i}@example.com`, `@many${i}:example.org`, { medium: i % 2 ? 'email' : 'msisdn' })),
    ];
    await store().binds.putMany(many);
    assert.deepEqual(await store().binds.get('email', 'replaced@example.com'), many[0]);
    assert.deepEqual(await store().binds.get('email', 'kept@example.com'), association('kept@example.com', '@kept:one.org'));
    const found = await store().binds.getMany(many);
    assert.equal(found.length, many.length);
    assert.deepEqual(found.find((a) => a.address === 'many7@example.com'), many[8]);
    assert.deepEqual(found.find((a) => a.address === 'many8@example.com'), association('many8@example.com', '@many8:example.org', { medium: 'msisdn' }));
  });

  it('answers bulk association queries of more than 500 3PIDs', async () => {
    for (let i = 0; i < 700; i++) await store().binds.put(association(`user${i}@example.com`, `@user${i}:example.org`));
    assert.deepEqual(await store().binds.getMany([]), []);
    const asked = [
      ...Array.from({ length: 1200 }, (_, i) => ({ medium: 'email', address: `user${i}@example.com` })),
      { medium: 'msisdn', address: 'user1@example.com' },
      { medium: 'email', address: 'user3@example.com' },
    ];
    const found = await store().binds.getMany(asked);
    assert.equal(found.length, 700);
    assert.deepEqual(new Set(found.map((a) => a.mxid)), new Set(Array.from({ length: 700 }, (_, i) => `@user${i}:example.org`)));
    const one = found.find((a) => a.address === 'user42@example.com');
    assert.deepEqual(one, association('user42@example.com', '@user42:example.org'));
  });

  it('streams every association once, with awaits between items', async () => {
    const total = 2345;
    for (let i = 0; i < total; i++) {
      await store().binds.put(association(`s${i}@example.com`, `@s${i}:example.org`, { medium: i % 3 === 0 ? 'msisdn' : 'email' }));
    }
    const seen = new Map<string, number>();
    for await (const a of store().binds.stream()) {
      const key = `${a.medium}/${a.address}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(seen.size, total);
    assert.ok([...seen.values()].every((count) => count === 1));
    assert.equal(seen.get('msisdn/s3@example.com'), 1);
    assert.equal(seen.get('email/s1@example.com'), 1);
  });

  it('never treats a non-string argument as a query', async () => {
    await store().binds.put(association('alice@example.com', '@alice:one.org'));
    await assert.rejects(store().binds.delete('email', OPERATOR, OPERATOR));
    await assert.rejects(store().binds.putMany([{ ...association('bob@example.com', '@bob:one.org'), address: OPERATOR }]));
    assert.equal(await store().binds.get('email', 'bob@example.com'), null);
    assert.notEqual(await store().binds.get('email', 'alice@example.com'), null);
  });

  it('lists the binds of one Matrix ID, sorted by medium then address, and no one else\'s', async () => {
    await store().binds.put(association('b@example.com', '@alice:example.org'));
    await store().binds.put(association('a@example.com', '@alice:example.org'));
    await store().binds.put(association('15551234567', '@alice:example.org', { medium: 'msisdn' }));
    await store().binds.put(association('c@example.com', '@bob:example.org'));
    const alice = await store().binds.byMxid('@alice:example.org');
    assert.deepEqual(alice.map((a) => `${a.medium} ${a.address}`), ['email a@example.com', 'email b@example.com', 'msisdn 15551234567']);
    assert.deepEqual(alice[0], association('a@example.com', '@alice:example.org'));
    assert.deepEqual(await store().binds.byMxid('@nobody:example.org'), []);
    await assert.rejects(store().binds.byMxid(OPERATOR));
  });
}
