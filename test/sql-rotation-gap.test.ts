/**
 * Two instances on one PostgreSQL store with `hashStorageType: sql`: a bind (or unbind) made on
 * one after the other switched to a new pepper, before it follows, still reaches the new
 * pepper's shared table. The followers read the change log only when the test says so (no
 * LISTEN/NOTIFY wake-ups, pollInterval 1h; the test calls caughtUp), so the race is placed
 * exactly, without sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { signAssociation } from '../plugins/binds/association.js';
import { openPostgresStore } from '../core/store/postgresql/index.js';
import { testApp } from './helpers/app.js';
import { createTestDatabase, unavailable } from './helpers/sql-databases.js';

const identities = Array.from({ length: 20 }, (_, i) => ({ username: `user${i}`, threepids: [{ medium: 'email', address: `user${i}@example.org` }] }));

async function instance(uri: string): Promise<FastifyInstance> {
  const store = await openPostgresStore({ uri, schema: 'public', maxConnections: 4, connectionTimeout: 10_000, idleTimeout: 30_000 });
  // The same change log without its wake-up hints: this instance follows when caughtUp() is called.
  store.changes = Object.assign(Object.create(store.changes), { watch: async () => async () => {} });
  const app = await testApp({
    matrix: { domain: 'example.org' },
    memory: { enabled: true, hashEnabled: true, identities },
    hashing: { hashStorageType: 'sql', rotationPolicy: 'per_seconds', delay: '1h' },
    instances: { pollInterval: '1h' },
  }, { store });
  await app.hashLookup!.rotation.ready;
  return app;
}

/** What the binds service does: the store first, then the event (awaited here). */
async function bind(app: FastifyInstance, address: string, mxid: string): Promise<void> {
  const ts = Date.now();
  const signed = signAssociation({ medium: 'email', address }, mxid, ts, 'id.example.test', generateSigningKey());
  await app.store.binds.put({ medium: 'email', address, mxid, ts, notBefore: signed.not_before, notAfter: signed.not_after, signed });
  await app.events.emitAndWait('bind', { medium: 'email', address, mxid });
}

async function unbind(app: FastifyInstance, address: string, mxid: string): Promise<void> {
  await app.store.binds.delete('email', address, mxid);
  await app.events.emitAndWait('unbind', { medium: 'email', address, mxid });
}

/** The Matrix ID the shared table of `pepper` holds for `address`. */
async function inTable(app: FastifyInstance, pepper: string, address: string): Promise<string | undefined> {
  const [entry] = await app.store.hashes.lookup(pepper, [lookupHash(address, 'email', pepper)]);
  return entry?.mxid;
}

/** Resolves when `app` has handled the next pepper rotation it reads from the change log. */
function handledRemoteRotation(app: FastifyInstance): Promise<void> {
  const rotation = app.hashLookup!.rotation;
  const original = rotation.adoptedRemote.bind(rotation);
  return new Promise((resolve) => {
    rotation.adoptedRemote = (...args) => {
      rotation.adoptedRemote = original;
      return original(...args).finally(resolve);
    };
  });
}

test('sql hash tables on PostgreSQL: a bind and an unbind made on B after A switched pepper, before B follows, are in the new pepper\'s table', { skip: unavailable('postgresql') }, async (t) => {
  const db = await createTestDatabase('postgresql');
  t.after(() => db.drop());
  const a = await instance(db.connection);
  t.after(() => a.close());
  const b = await instance(db.connection);
  t.after(() => b.close());
  const old = a.hashLookup!.rotation.pepper;
  assert.equal(b.hashLookup!.rotation.pepper, old, 'B took the stored pepper');
  await bind(a, 'leaving@example.org', '@leaving:example.org');

  await a.hashLookup!.rotation.rotate();
  const pepper = a.hashLookup!.rotation.pepper;
  assert.notEqual(pepper, old);
  assert.equal(b.hashLookup!.rotation.pepper, old, 'B has not followed yet');

  // B changes two 3PIDs while it knows only the old pepper: written to the old table only.
  assert.equal(await inTable(b, pepper, 'leaving@example.org'), '@leaving:example.org', 'the new table was built with the bind');
  await bind(b, 'new@example.org', '@new:example.org');
  await unbind(b, 'leaving@example.org', '@leaving:example.org');
  assert.equal(await inTable(b, old, 'new@example.org'), '@new:example.org');
  assert.equal(await inTable(b, old, 'leaving@example.org'), undefined);
  assert.equal(await inTable(b, pepper, 'new@example.org'), undefined);
  assert.equal(await inTable(b, pepper, 'leaving@example.org'), '@leaving:example.org');

  // A reads B's changes after its table was built (it writes no other instance's change to a shared table)...
  await a.instance.follower.caughtUp();
  // ...and B reads A's rotation: it adopts the pepper and writes its own changes since the build there.
  const handled = handledRemoteRotation(b);
  await b.instance.follower.caughtUp();
  await handled;
  assert.equal(b.hashLookup!.rotation.pepper, pepper);
  assert.equal(await inTable(a, pepper, 'new@example.org'), '@new:example.org', 'the bind is in the new pepper\'s table');
  assert.equal(await inTable(a, pepper, 'leaving@example.org'), undefined, 'the unbind is in the new pepper\'s table');
  assert.equal(await inTable(a, pepper, 'user7@example.org'), '@user7:example.org', 'the rest of the table is untouched');
});
