/**
 * Storage conformance: every port's suite (test/store/<area>.ts) against every backend
 * (test/store/backends.ts); then what is particular to one backend.
 */
import { after, afterEach, beforeEach, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HashTableStore, Store } from '../core/store/port.js';
import { MongoClient } from 'mongodb';
import { openSqliteStore, type SqliteStore } from '../core/store/sqlite/index.js';
import { durableDatabase, openMongoStore } from '../core/store/mongodb/index.js';
import { openStore, selectHashTables } from '../core/store/index.js';
import { testConfig } from './helpers/app.js';
import { BACKENDS, removeTempFiles, type OpenedStore } from './store/backends.js';
import { association, entries, NOW, pepperState } from './store/fixtures.js';
import { sessionsSuite } from './store/sessions.js';
import { bindsSuite } from './store/binds.js';
import { invitesSuite } from './store/invites.js';
import { accountsSuite } from './store/accounts.js';
import { termsSuite } from './store/terms.js';
import { hashesSuite } from './store/hashes.js';
import { onbindSuite } from './store/onbind.js';
import { thirdPartySuite } from './store/third-party.js';
import { leasesSuite } from './store/leases.js';
import { changesSuite } from './store/changes.js';

const SUITES: Record<string, (store: () => Store) => void> = {
  sessions: sessionsSuite,
  binds: bindsSuite,
  invites: invitesSuite,
  accounts: accountsSuite,
  terms: termsSuite,
  hashes: hashesSuite,
  onbind: onbindSuite,
  'third-party mappings': thirdPartySuite,
  leases: leasesSuite,
  changes: changesSuite,
};

after(removeTempFiles);

for (const backend of BACKENDS) {
  if (backend.skip) {
    test(`store suites on ${backend.name}`, { skip: backend.skip }, () => {});
    continue;
  }
  for (const [area, suite] of Object.entries(SUITES)) {
    describe(`store ${area}: ${backend.name}`, () => {
      let opened: OpenedStore;
      beforeEach(async () => { opened = await backend.open(); });
      afterEach(async () => { await opened.dispose(); });
      suite(() => opened.store);
    });
  }
  describe(`store ping: ${backend.name}`, () => {
    it('answers while the store is open and rejects once it is closed', async () => {
      const opened = await backend.open();
      await opened.store.ping();
      await opened.dispose();
      await assert.rejects(opened.store.ping());
    });
  });
}

describe('sqlite file specifics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-store-sqlite-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs in WAL mode and keeps its data across close and reopen', async () => {
    const path = join(dir, 'reopen', 'unisd.db');
    const first = await openSqliteStore(path);
    assert.equal(first.journalMode(), 'wal');
    await first.binds.put(association('alice@example.com', '@alice:example.org'));
    await first.peppers.swapPepperState(null, pepperState('p1', { altPeppers: ['p0'] }));
    await first.hashes.replace('p1', [entries(3)]);
    await first.accounts.put({ tokenHash: 'th', userId: '@alice:example.org', createdAt: NOW, expiresAt: null });
    await first.thirdParty.begin('one.org', 'p1', 's1');
    await first.thirdParty.write('one.org', 'p1', 's1', ['h1']);
    await first.thirdParty.commit('one.org', 'p1', 's1', NOW);
    await first.close();

    const second = await openSqliteStore(path);
    assert.deepEqual(await second.binds.get('email', 'alice@example.com'), association('alice@example.com', '@alice:example.org'));
    assert.deepEqual(await second.peppers.getPepperState(), pepperState('p1', { altPeppers: ['p0'] }));
    assert.deepEqual(await second.hashes.lookup('p1', ['h2']), [{ hash: 'h2', mxid: '@user2:example.org' }]);
    assert.equal((await second.accounts.get('th'))?.userId, '@alice:example.org');
    assert.deepEqual(await second.thirdParty.lookup('p1', ['h1']), { 'one.org': ['h1'] });
    await second.close();
  });

  it('writes with synchronous=FULL unless storage.sqlite.synchronous is normal', async () => {
    const byDefault = await openStore(testConfig({ storage: { sqlite: { path: join(dir, 'sync-default', 'unisd.db') } } }).storage) as SqliteStore;
    assert.equal(byDefault.synchronousLevel(), 2, 'FULL: a write answered is on disk');
    await byDefault.close();
    const normal = await openStore(testConfig({ storage: { sqlite: { path: join(dir, 'sync-normal', 'unisd.db'), synchronous: 'normal' } } }).storage) as SqliteStore;
    assert.equal(normal.synchronousLevel(), 1, 'NORMAL');
    await normal.close();
  });

  it('refuses a second store on the same file while the first is open, naming the file', async () => {
    const path = join(dir, 'locked', 'unisd.db');
    const first = await openSqliteStore(path);
    await assert.rejects(openSqliteStore(path), { message: `${path} is in use by another unisd process (${path}.lock is locked)` });
    await first.close();
    const second = await openSqliteStore(path);
    await second.close();
  });

  it('refuses use after close with a clear error', async () => {
    const store = await openSqliteStore(':memory:');
    await store.close();
    await assert.rejects(store.sessions.get('x'), /after close/);
    await store.close();
  });
});

test('hashing.hashStorageType selects the backend\'s hash tables (sql) or the one the lookup plugin brings (in_memory)', async (t) => {
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  const inMemory = {} as HashTableStore;
  assert.equal(selectHashTables('sql', store, () => inMemory), store.hashes);
  assert.equal(selectHashTables('in_memory', store, () => inMemory), inMemory);
});

test('MongoDB writes with w: majority, j: true, whatever the URI asks (no server needed)', async () => {
  for (const query of ['', '?w=1&journal=false']) {
    const client = new MongoClient(`mongodb://127.0.0.1:1/${query}`);
    const { w, journal } = durableDatabase(client, 'unisd').writeConcern ?? {};
    assert.deepEqual({ w, journal }, { w: 'majority', journal: true }, query);
    await client.close();
  }
});

const mongoUri = process.env.UNISD_TEST_MONGODB_URI;
describe('mongodb specifics', { skip: mongoUri ? undefined : 'set UNISD_TEST_MONGODB_URI to run it' }, () => {
  it('removes at start what crashed hash table replacements left; keeps published tables and live replacements', async () => {
    const name = `unisd_test_specifics_${process.pid}_${Date.now()}`;
    const first = await openMongoStore(mongoUri!, name);
    const client = await new MongoClient(mongoUri!).connect();
    try {
      await first.hashes.replace('p1', [entries(2, 'kept')]);
      // What crashes leave: a replacement registered long ago that never finished, entries of a
      // generation no table names; and another instance's replacement, being written.
      const db = client.db(name);
      const hour = 3_600_000;
      await db.collection<{ _id: string }>('hash_sets').updateOne({ _id: 'p1' }, { $push: { pending: { $each: [
        { generation: 'dead', touchedAt: Date.now() - 2 * hour }, { generation: 'live', touchedAt: Date.now() },
      ] } } } as never);
      await db.collection('hash_entries').insertMany(['dead', 'orphan', 'live'].map((generation) => ({ pepper: 'p1', generation, hash: generation, mxid: '@x:example.org' })));

      const second = await openMongoStore(mongoUri!, name);
      const generations = await db.collection('hash_entries').distinct('generation');
      const table = await db.collection<{ _id: string; pending: Array<{ generation: string }> }>('hash_sets').findOne({ _id: 'p1' });
      assert.deepEqual(table?.pending.map((p) => p.generation), ['live']);
      assert.equal(generations.length, 2, 'the published generation and the live one');
      assert.ok(generations.includes('live') && !generations.includes('dead') && !generations.includes('orphan'));
      assert.equal((await second.hashes.lookup('p1', ['kept0', 'kept1'])).length, 2);
      await second.close();
    } finally {
      await client.close();
      await first.dropDatabase();
      await first.close();
    }
  });
});
