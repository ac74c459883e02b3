/**
 * Storage conformance: one suite, run against every backend. SQLite always (a file and
 * ':memory:'); MongoDB when UNISD_TEST_MONGODB_URI is set (a fresh database per test, dropped).
 */
import { after, afterEach, beforeEach, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Association, HashEntry, OnbindDelivery, PendingInvite, PepperState, Store, ValidationSession } from '../core/store/port.js';
import { SqliteStore } from '../core/store/sqlite.js';
import { MongoStore } from '../core/store/mongodb.js';

interface OpenedStore {
  store: Store;
  /** Closes the store and removes what it wrote. */
  dispose(): Promise<void>;
}

const NOW = 1_700_000_000_000;

const session = (over: Partial<ValidationSession> = {}): ValidationSession => ({
  sid: 'sid-1', medium: 'email', address: 'alice@example.com', clientSecret: 'secret-1', tokenHash: 'th-1', sendAttempt: 1,
  nextLink: null, createdAt: NOW, updatedAt: NOW, validatedAt: null, ...over,
});
const association = (address: string, mxid: string, over: Partial<Association> = {}): Association => ({
  medium: 'email', address, mxid, ts: NOW, notBefore: NOW, notAfter: NOW + 1000,
  signed: { address, medium: 'email', mxid, signatures: { 'id.example.test': { 'ed25519:0': 'sig' } } }, ...over,
});
const invite = (token: string, over: Partial<PendingInvite> = {}): PendingInvite => ({
  token, medium: 'email', address: 'bob@example.com', roomId: '!room:example.org', sender: '@alice:example.org',
  fields: { room_name: 'Lounge', 'dotted.key': 1, $dollar: 'kept as data' }, ephemeralPublicKey: `eph-${token}`,
  createdAt: NOW, expiresAt: NOW + 1000, deliveredAt: null, ...over,
});
const delivery = (id: string, nextAttemptAt: number, createdAt = NOW): OnbindDelivery => ({
  id, destination: 'hs.example.org', body: { medium: 'email', address: 'bob@example.com', mxid: '@bob:hs.example.org' },
  attempts: 0, nextAttemptAt, lastError: null, createdAt,
});
const pepperState = (pepper: string, over: Partial<PepperState> = {}): PepperState => ({
  pepper, altPeppers: [], rotatedAt: NOW, requestCount: 0, ...over,
});
const entries = (count: number, prefix = 'h'): HashEntry[] =>
  Array.from({ length: count }, (_, i) => ({ hash: `${prefix}${i}`, mxid: `@user${i}:example.org` }));
const sortBy = <T>(items: T[], key: (item: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

export function storeConformance(backend: string, open: () => Promise<OpenedStore>): void {
  describe(`store conformance: ${backend}`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => { await opened.dispose(); });

    it('init is idempotent', async () => {
      await store.init();
      await store.createSession(session());
      await store.init();
      assert.equal((await store.getSession('sid-1'))?.address, 'alice@example.com');
    });

    it('creates, finds, updates and deletes validation sessions', async () => {
      await store.createSession(session({ nextLink: 'https://example.org/next' }));
      await store.createSession(session({ sid: 'sid-2', clientSecret: 'secret-2' }));
      assert.deepEqual(await store.getSession('sid-1'), session({ nextLink: 'https://example.org/next' }));
      assert.equal(await store.getSession('nope'), null);
      assert.equal((await store.findSession('email', 'alice@example.com', 'secret-2'))?.sid, 'sid-2');
      assert.equal(await store.findSession('msisdn', 'alice@example.com', 'secret-2'), null);
      assert.equal(await store.findSession('email', 'alice@example.com', 'other'), null);

      await store.updateSession('sid-1', { tokenHash: 'th-2', sendAttempt: 2, validatedAt: NOW + 5, updatedAt: NOW + 5, nextLink: undefined });
      assert.deepEqual(await store.getSession('sid-1'), session({
        nextLink: 'https://example.org/next', tokenHash: 'th-2', sendAttempt: 2, validatedAt: NOW + 5, updatedAt: NOW + 5,
      }));
      await store.updateSession('sid-1', { nextLink: null });
      assert.equal((await store.getSession('sid-1'))?.nextLink, null);
      await store.updateSession('sid-1', {});
      assert.equal((await store.getSession('sid-2'))?.tokenHash, 'th-1', 'other sessions untouched');

      await store.deleteSession('sid-2');
      assert.equal(await store.getSession('sid-2'), null);
      assert.notEqual(await store.getSession('sid-1'), null);
    });

    it('refuses a second session with the same sid or the same (medium, address, client secret)', async () => {
      await store.createSession(session());
      await assert.rejects(store.createSession(session({ sid: 'sid-other' })));
      await assert.rejects(store.createSession(session({ clientSecret: 'other' })));
      assert.equal((await store.getSession('sid-1'))?.clientSecret, 'secret-1');
      assert.equal(await store.getSession('sid-other'), null);
    });

    it('purges sessions last updated before the cut-off only', async () => {
      await store.createSession(session({ sid: 'old', clientSecret: 'a', updatedAt: NOW - 10 }));
      await store.createSession(session({ sid: 'edge', clientSecret: 'b', updatedAt: NOW }));
      await store.createSession(session({ sid: 'new', clientSecret: 'c', createdAt: NOW - 100, updatedAt: NOW + 10 }));
      assert.equal(await store.deleteSessionsBefore(NOW), 1);
      assert.equal(await store.getSession('old'), null);
      assert.notEqual(await store.getSession('edge'), null);
      assert.notEqual(await store.getSession('new'), null);
      assert.equal(await store.deleteSessionsBefore(NOW), 0);
    });

    it('stores a bind, replaces it on rebind, and deletes it only for the matching mxid', async () => {
      await store.putAssociation(association('alice@example.com', '@alice:one.org'));
      assert.deepEqual(await store.getAssociation('email', 'alice@example.com'), association('alice@example.com', '@alice:one.org'));
      const rebind = association('alice@example.com', '@alice:two.org', { ts: NOW + 1 });
      await store.putAssociation(rebind);
      assert.deepEqual(await store.getAssociation('email', 'alice@example.com'), rebind);
      assert.equal(await store.getAssociation('msisdn', 'alice@example.com'), null);

      assert.equal(await store.deleteAssociation('email', 'alice@example.com', '@alice:one.org'), false);
      assert.deepEqual(await store.getAssociation('email', 'alice@example.com'), rebind);
      assert.equal(await store.deleteAssociation('email', 'alice@example.com', '@alice:two.org'), true);
      assert.equal(await store.getAssociation('email', 'alice@example.com'), null);
      assert.equal(await store.deleteAssociation('email', 'alice@example.com', '@alice:two.org'), false);
    });

    it('answers bulk association queries of more than 500 3PIDs', async () => {
      for (let i = 0; i < 700; i++) await store.putAssociation(association(`user${i}@example.com`, `@user${i}:example.org`));
      assert.deepEqual(await store.getAssociations([]), []);
      const asked = [
        ...Array.from({ length: 1200 }, (_, i) => ({ medium: 'email', address: `user${i}@example.com` })),
        { medium: 'msisdn', address: 'user1@example.com' },
        { medium: 'email', address: 'user3@example.com' },
      ];
      const found = await store.getAssociations(asked);
      assert.equal(found.length, 700);
      assert.deepEqual(new Set(found.map((a) => a.mxid)), new Set(Array.from({ length: 700 }, (_, i) => `@user${i}:example.org`)));
      const one = found.find((a) => a.address === 'user42@example.com');
      assert.deepEqual(one, association('user42@example.com', '@user42:example.org'));
    });

    it('streams every association once, with awaits between items', async () => {
      const total = 2345;
      for (let i = 0; i < total; i++) {
        await store.putAssociation(association(`s${i}@example.com`, `@s${i}:example.org`, { medium: i % 3 === 0 ? 'msisdn' : 'email' }));
      }
      const seen = new Map<string, number>();
      for await (const a of store.streamAssociations()) {
        const key = `${a.medium}/${a.address}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(seen.size, total);
      assert.ok([...seen.values()].every((count) => count === 1));
      assert.equal(seen.get('msisdn/s3@example.com'), 1);
      assert.equal(seen.get('email/s1@example.com'), 1);
    });

    it('finds pending invites for a 3PID, excluding expired and delivered ones', async () => {
      await store.putInvite(invite('t-late', { createdAt: NOW + 2 }));
      await store.putInvite(invite('t-early', { createdAt: NOW + 1 }));
      await store.putInvite(invite('t-expired', { expiresAt: NOW - 1 }));
      await store.putInvite(invite('t-edge', { expiresAt: NOW }));
      await store.putInvite(invite('t-other', { address: 'carol@example.com' }));
      assert.deepEqual(await store.getInvite('t-early'), invite('t-early', { createdAt: NOW + 1 }));
      assert.equal(await store.getInvite('missing'), null);

      const found = await store.findInvites('email', 'bob@example.com', NOW);
      assert.deepEqual(found.map((i) => i.token), ['t-early', 't-late']);
      assert.deepEqual(found[0]?.fields, { room_name: 'Lounge', 'dotted.key': 1, $dollar: 'kept as data' });

      await store.markInvitesDelivered([], NOW);
      await store.markInvitesDelivered(['t-early', 't-other', 'missing'], NOW + 5);
      assert.deepEqual((await store.findInvites('email', 'bob@example.com', NOW)).map((i) => i.token), ['t-late']);
      assert.deepEqual(await store.findInvites('email', 'carol@example.com', NOW), []);
      assert.equal((await store.getInvite('t-early'))?.deliveredAt, NOW + 5, 'a delivered invite is still found by its token');
      assert.equal((await store.getInvite('t-late'))?.deliveredAt, null);
      await store.deleteInvite('t-late');
      await store.deleteInvite('missing');
      assert.equal(await store.getInvite('t-late'), null);
      assert.notEqual(await store.getInvite('t-early'), null);
    });

    it('purges expired invites and ephemeral keys; ephemeral keys are valid until they expire', async () => {
      await store.putInvite(invite('t-expired', { expiresAt: NOW - 1 }));
      await store.putInvite(invite('t-live', { expiresAt: NOW + 1 }));
      await store.putEphemeralKey('key-old', NOW - 1);
      await store.putEphemeralKey('key-live', NOW + 1);

      assert.equal(await store.isEphemeralKeyValid('key-live', NOW), true);
      assert.equal(await store.isEphemeralKeyValid('key-live', NOW + 1), false, 'invalid once expiresAt is reached');
      assert.equal(await store.isEphemeralKeyValid('key-old', NOW), false);
      assert.equal(await store.isEphemeralKeyValid('unknown', NOW), false);
      await store.putEphemeralKey('key-old', NOW + 50);
      assert.equal(await store.isEphemeralKeyValid('key-old', NOW), true, 'putting again re-dates the key');
      await store.putEphemeralKey('key-old', NOW - 1);

      assert.equal(await store.deleteInvitesBefore(NOW), 1);
      assert.equal(await store.getInvite('t-expired'), null);
      assert.notEqual(await store.getInvite('t-live'), null);
      assert.equal(await store.isEphemeralKeyValid('key-live', NOW), true);
      await store.putEphemeralKey('key-probe', NOW + 5);
      assert.equal(await store.deleteInvitesBefore(NOW + 10), 1);
      assert.equal(await store.isEphemeralKeyValid('key-probe', NOW), false, 'expired keys are purged with invites');
    });

    it('stores account tokens and purges expired ones, never those without expiry', async () => {
      await store.putAccountToken({ tokenHash: 'forever', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
      await store.putAccountToken({ tokenHash: 'expired', userId: '@b:example.org', createdAt: NOW, expiresAt: NOW - 1 });
      await store.putAccountToken({ tokenHash: 'live', userId: '@c:example.org', createdAt: NOW, expiresAt: NOW + 1 });
      assert.deepEqual(await store.getAccountToken('forever'), { tokenHash: 'forever', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
      assert.deepEqual(await store.getAccountToken('live'), { tokenHash: 'live', userId: '@c:example.org', createdAt: NOW, expiresAt: NOW + 1 });
      assert.equal(await store.getAccountToken('missing'), null);

      assert.equal(await store.deleteAccountTokensBefore(NOW), 1);
      assert.equal(await store.getAccountToken('expired'), null);
      assert.notEqual(await store.getAccountToken('live'), null);
      assert.equal(await store.deleteAccountTokensBefore(Number.MAX_SAFE_INTEGER), 1);
      assert.notEqual(await store.getAccountToken('forever'), null);

      await store.deleteAccountToken('forever');
      assert.equal(await store.getAccountToken('forever'), null);
    });

    it('keeps a user\'s newest account tokens and deletes the oldest beyond the cap, other users untouched', async () => {
      for (let i = 0; i < 5; i++) await store.putAccountToken({ tokenHash: `capped-${i}`, userId: '@many:example.org', createdAt: NOW + i, expiresAt: null });
      await store.putAccountToken({ tokenHash: 'other-user', userId: '@other:example.org', createdAt: NOW - 10, expiresAt: null });
      assert.equal(await store.deleteOldestAccountTokens('@many:example.org', 3), 2);
      for (const [i, kept] of [[0, false], [1, false], [2, true], [3, true], [4, true]] as const) {
        assert.equal(await store.getAccountToken(`capped-${i}`) !== null, kept, `capped-${i}`);
      }
      assert.notEqual(await store.getAccountToken('other-user'), null);
      assert.equal(await store.deleteOldestAccountTokens('@many:example.org', 3), 0);
      assert.equal(await store.deleteOldestAccountTokens('@nobody:example.org', 0), 0);
    });

    it('accumulates accepted policies per user without duplicates', async () => {
      await store.acceptPolicies('@a:example.org', [{ policy: 'tos', version: '1.0' }]);
      await store.acceptPolicies('@a:example.org', [{ policy: 'privacy', version: '2' }, { policy: 'tos', version: '1.0' }, { policy: 'tos', version: '1.1' }]);
      await store.acceptPolicies('@a:example.org', []);
      await store.acceptPolicies('@b:example.org', [{ policy: 'tos', version: '9' }]);
      assert.deepEqual(await store.getAcceptedPolicies('@a:example.org'), [
        { policy: 'privacy', version: '2' }, { policy: 'tos', version: '1.0' }, { policy: 'tos', version: '1.1' },
      ]);
      assert.deepEqual(await store.getAcceptedPolicies('@b:example.org'), [{ policy: 'tos', version: '9' }]);
      assert.deepEqual(await store.getAcceptedPolicies('@nobody:example.org'), []);
    });

    it('swaps the pepper state only from the expected pepper', async () => {
      assert.equal(await store.getPepperState(), null);
      assert.equal(await store.swapPepperState('p0', pepperState('p1')), false, 'no state yet: only null is expected');
      assert.equal(await store.swapPepperState(null, pepperState('p1', { requestCount: 3 })), true);
      assert.equal(await store.swapPepperState(null, pepperState('p-late')), false, 'the first instance won');
      assert.deepEqual(await store.getPepperState(), pepperState('p1', { requestCount: 3 }));

      const next = pepperState('p2', { altPeppers: ['p1'], rotatedAt: NOW + 10 });
      assert.equal(await store.swapPepperState('p1', next), true);
      assert.equal(await store.swapPepperState('p1', pepperState('p3', { altPeppers: ['p1'] })), false, 'stale expected pepper');
      assert.deepEqual(await store.getPepperState(), next);
    });

    it('counts lookups served with the current pepper only', async () => {
      assert.equal(await store.incrementPepperRequests('p1'), 0);
      await store.swapPepperState(null, pepperState('p1'));
      assert.equal(await store.incrementPepperRequests('p1'), 1);
      assert.equal(await store.incrementPepperRequests('p1'), 2);
      assert.equal(await store.incrementPepperRequests('stale'), 0);
      assert.equal((await store.getPepperState())?.requestCount, 2);
      await Promise.all(Array.from({ length: 20 }, () => store.incrementPepperRequests('p1')));
      assert.equal((await store.getPepperState())?.requestCount, 22);
    });

    it('replaces hash tables whole and looks up more than 500 hashes', async () => {
      assert.deepEqual(await store.lookupHashes('p1', ['h1']), [], 'no table yet');
      await store.replaceHashes('p1', [entries(600), entries(600, 'x')]);
      await store.replaceHashes('p2', [entries(3, 'other')]);
      const asked = [...Array.from({ length: 1000 }, (_, i) => `h${i}`), 'x5', 'h7', 'other1'];
      const found = await store.lookupHashes('p1', asked);
      assert.equal(found.length, 601);
      assert.deepEqual(found.find((e) => e.hash === 'h599'), { hash: 'h599', mxid: '@user599:example.org' });
      assert.deepEqual(await store.lookupHashes('p1', []), []);

      await store.replaceHashes('p1', [[{ hash: 'h1', mxid: '@new:example.org' }, { hash: 'fresh', mxid: '@fresh:example.org' }]]);
      assert.deepEqual(sortBy(await store.lookupHashes('p1', ['h1', 'h2', 'fresh', 'x5']), (e) => e.hash), [
        { hash: 'fresh', mxid: '@fresh:example.org' }, { hash: 'h1', mxid: '@new:example.org' },
      ]);
      assert.deepEqual(await store.lookupHashes('p2', ['other2', 'h1']), [{ hash: 'other2', mxid: '@user2:example.org' }], 'other peppers untouched');

      await store.replaceHashes('p1', []);
      assert.deepEqual(await store.lookupHashes('p1', ['h1', 'fresh']), [], 'an empty replacement empties the table');
    });

    it('keeps lookups on the previous table until a replacement completes, and after one fails', async () => {
      await store.replaceHashes('p1', [entries(10, 'old')]);
      const gate = deferred();
      const written = deferred();
      async function* slowEntries(): AsyncIterable<HashEntry[]> {
        yield entries(10, 'new');
        written.resolve();
        await gate.promise;
        yield entries(5, 'late');
      }
      const replacing = store.replaceHashes('p1', slowEntries());
      await written.promise;
      assert.equal((await store.lookupHashes('p1', ['old0', 'old9', 'new0'])).length, 2, 'old table whole, new one invisible');
      gate.resolve();
      await replacing;
      assert.deepEqual((await store.lookupHashes('p1', ['old0', 'new0', 'new9', 'late4'])).map((e) => e.hash).sort(), ['late4', 'new0', 'new9']);

      async function* failing(): AsyncIterable<HashEntry[]> {
        yield entries(3, 'broken');
        throw new Error('provider went away');
      }
      await assert.rejects(store.replaceHashes('p1', failing()), /provider went away/);
      assert.deepEqual((await store.lookupHashes('p1', ['new0', 'broken0'])).map((e) => e.hash), ['new0']);
    });

    it('drops the hash tables of unlisted peppers', async () => {
      await store.replaceHashes('p1', [entries(2)]);
      await store.replaceHashes('p2', [entries(2)]);
      await store.replaceHashes('p3', [entries(2)]);
      await store.deleteHashesExcept(['p2', 'p3']);
      assert.deepEqual(await store.lookupHashes('p1', ['h0']), []);
      assert.equal((await store.lookupHashes('p2', ['h0', 'h1'])).length, 2);
      assert.equal((await store.lookupHashes('p3', ['h0'])).length, 1);
      await store.deleteHashesExcept([]);
      assert.deepEqual(await store.lookupHashes('p2', ['h0']), []);
      assert.deepEqual(await store.lookupHashes('p3', ['h0']), []);
    });

    it('queues onbind deliveries: due ones earliest first, rescheduled, deleted', async () => {
      await store.enqueueOnbind(delivery('c', NOW + 5));
      await store.enqueueOnbind(delivery('a', NOW - 10));
      await store.enqueueOnbind(delivery('b', NOW));
      await store.enqueueOnbind(delivery('future', NOW + 1000));
      assert.deepEqual((await store.dueOnbind(NOW + 5, 10)).map((d) => d.id), ['a', 'b', 'c']);
      assert.deepEqual((await store.dueOnbind(NOW + 5, 2)).map((d) => d.id), ['a', 'b']);
      assert.deepEqual(await store.dueOnbind(NOW + 5, 0), []);
      assert.deepEqual((await store.dueOnbind(NOW, 10))[0], delivery('a', NOW - 10));

      await store.rescheduleOnbind('a', 1, NOW + 100, 'connection refused');
      const due = await store.dueOnbind(NOW + 100, 10);
      assert.deepEqual(due.map((d) => d.id), ['b', 'c', 'a']);
      assert.deepEqual(due[2], { ...delivery('a', NOW + 100), attempts: 1, lastError: 'connection refused' });

      await store.deleteOnbind('b');
      assert.deepEqual((await store.dueOnbind(NOW + 2000, 10)).map((d) => d.id), ['c', 'a', 'future']);
    });

    it('claims due onbind deliveries once: a claim leases them until leaseUntil', async () => {
      await store.enqueueOnbind(delivery('late', NOW - 1, NOW + 1));
      await store.enqueueOnbind(delivery('early', NOW - 10));
      await store.enqueueOnbind(delivery('future', NOW + 1000));
      assert.deepEqual(await store.claimOnbind(NOW, NOW + 60, 0), []);
      const claimed = await store.claimOnbind(NOW, NOW + 60, 10);
      assert.deepEqual(claimed.map((d) => d.id).sort(), ['early', 'late']);
      assert.ok(claimed.every((d) => d.nextAttemptAt === NOW + 60 && d.attempts === 0));
      assert.deepEqual(await store.claimOnbind(NOW, NOW + 60, 10), [], 'a second claimer gets nothing while the lease runs');
      const again = await store.claimOnbind(NOW + 60, NOW + 120, 1);
      assert.equal(again.length, 1, 'after the lease, a delivery can be claimed again (its claimer died), limit respected');
      await Promise.all(['early', 'late'].map((id) => store.deleteOnbind(id)));
      assert.deepEqual((await store.dueOnbind(NOW + 2000, 10)).map((d) => d.id), ['future']);
    });

    it('replaces and looks up third-party mappings per server and pepper', async () => {
      await store.replaceThirdPartyMappings('one.org', 'p1', ['h1', 'h2', 'h2']);
      await store.replaceThirdPartyMappings('two.org', 'p1', ['h3']);
      await store.replaceThirdPartyMappings('two.org', 'p2', ['h1']);
      const found = await store.lookupThirdPartyMappings('p1', ['h1', 'h2', 'h3', 'h4']);
      assert.deepEqual(Object.keys(found).sort(), ['one.org', 'two.org']);
      assert.deepEqual(found['one.org']?.sort(), ['h1', 'h2']);
      assert.deepEqual(found['two.org'], ['h3']);

      await store.replaceThirdPartyMappings('one.org', 'p1', ['h4']);
      assert.deepEqual(await store.lookupThirdPartyMappings('p1', ['h1', 'h2', 'h4']), { 'one.org': ['h4'] });
      assert.deepEqual(await store.lookupThirdPartyMappings('p2', ['h1', 'h3']), { 'two.org': ['h1'] });
      assert.deepEqual(await store.lookupThirdPartyMappings('p1', []), {});
      const many = Array.from({ length: 1200 }, (_, i) => `m${i}`);
      await store.replaceThirdPartyMappings('two.org', 'p1', many);
      assert.equal((await store.lookupThirdPartyMappings('p1', many))['two.org']?.length, 1200);
    });

    it('never treats a non-string argument as a query', async () => {
      await store.createSession(session());
      await store.putAccountToken({ tokenHash: 'th', userId: '@a:example.org', createdAt: NOW, expiresAt: null });
      const operator = { $ne: 'nothing' } as unknown as string;
      await assert.rejects(store.getSession(operator));
      await assert.rejects(store.findSession('email', operator, operator));
      await assert.rejects(store.getAccountToken(operator));
      await assert.rejects(store.deleteAssociation('email', operator, operator));
      assert.notEqual(await store.getSession('sid-1'), null);
    });
  });
}

storeConformance('sqlite :memory:', async () => {
  const store = new SqliteStore(':memory:');
  await store.init();
  return { store, dispose: () => store.close() };
});

const tempDir = mkdtempSync(join(tmpdir(), 'unisd-store-'));
after(() => rmSync(tempDir, { recursive: true, force: true }));
let fileCount = 0;

storeConformance('sqlite file', async () => {
  const store = new SqliteStore(join(tempDir, `conformance-${fileCount++}`, 'unisd.db'));
  await store.init();
  return { store, dispose: () => store.close() };
});

describe('sqlite file specifics', () => {
  it('runs in WAL mode and keeps its data across close and reopen', async () => {
    const path = join(tempDir, 'reopen', 'unisd.db');
    const first = new SqliteStore(path);
    await first.init();
    assert.equal(first.journalMode(), 'wal');
    await first.putAssociation(association('alice@example.com', '@alice:example.org'));
    await first.swapPepperState(null, pepperState('p1', { altPeppers: ['p0'] }));
    await first.replaceHashes('p1', [entries(3)]);
    await first.putAccountToken({ tokenHash: 'th', userId: '@alice:example.org', createdAt: NOW, expiresAt: null });
    await first.close();

    const second = new SqliteStore(path);
    await second.init();
    assert.deepEqual(await second.getAssociation('email', 'alice@example.com'), association('alice@example.com', '@alice:example.org'));
    assert.deepEqual(await second.getPepperState(), pepperState('p1', { altPeppers: ['p0'] }));
    assert.deepEqual(await second.lookupHashes('p1', ['h2']), [{ hash: 'h2', mxid: '@user2:example.org' }]);
    assert.equal((await second.getAccountToken('th'))?.userId, '@alice:example.org');
    await second.close();
  });

  it('refuses use after close with a clear error', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.close();
    await assert.rejects(store.getSession('x'), /after close/);
    await store.close();
  });
});

const mongoUri = process.env.UNISD_TEST_MONGODB_URI;
if (mongoUri) {
  const run = randomBytes(4).toString('hex');
  let databaseCount = 0;
  storeConformance('mongodb', async () => {
    const store = new MongoStore(mongoUri, `unisd_test_${run}_${databaseCount++}`);
    await store.init();
    return { store, dispose: async () => { await store.dropDatabase(); await store.close(); } };
  });
} else {
  test('MongoDB store suite', { skip: 'set UNISD_TEST_MONGODB_URI to run it' }, () => {});
}
