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
import { openSqliteStore } from '../core/store/sqlite/index.js';
import { selectHashTables } from '../core/store/index.js';
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

const SUITES: Record<string, (store: () => Store) => void> = {
  sessions: sessionsSuite,
  binds: bindsSuite,
  invites: invitesSuite,
  accounts: accountsSuite,
  terms: termsSuite,
  hashes: hashesSuite,
  onbind: onbindSuite,
  'third-party mappings': thirdPartySuite,
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
