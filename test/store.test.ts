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
import Database from 'better-sqlite3';
import { BACKENDS, disposePostgres, postgresOptions, postgresUri, removeTempFiles, type OpenedStore } from './store/backends.js';
import { pendingMigrations } from '../core/store/migrations.js';
import { SQLITE_MIGRATIONS, sqlitePending } from '../core/store/sqlite/migrations.js';
import { POSTGRESQL_MIGRATIONS, postgresPending } from '../core/store/postgresql/migrations.js';
import { openPostgresStore } from '../core/store/postgresql/index.js';
import { createPool } from '../core/store/postgresql/db.js';
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
    await first.thirdParty.write('one.org', 'p1', 's1', 0, ['h1']);
    await first.thirdParty.commit('one.org', 'p1', 's1', 1, NOW);
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

test('the migration lists are numbered 1, 2, 3… in order, each named', () => {
  for (const list of [SQLITE_MIGRATIONS, POSTGRESQL_MIGRATIONS]) {
    assert.deepEqual(list.map((m) => m.version), list.map((_, i) => i + 1));
    assert.ok(list.every((m) => m.name.length > 0 && m.sql.trim().length > 0));
  }
  assert.throws(() => pendingMigrations(SQLITE_MIGRATIONS, [SQLITE_MIGRATIONS.length + 1]), /newer than this unisd knows/);
});

test('sqlite: a database made before versioned migrations keeps its data and gets migrations 1 and 2 recorded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  // What unisd made before: the tables of migration 1, no schema_migrations.
  const old = new Database(path);
  old.exec(SQLITE_MIGRATIONS[0].sql);
  old.prepare("INSERT INTO account_tokens (token_hash, user_id, created_at, expires_at) VALUES ('th', '@old:example.org', 1, NULL)").run();
  old.close();
  assert.deepEqual(sqlitePending(path).map((m) => m.version), [1, 2]);

  const store = await openSqliteStore(path);
  assert.equal((await store.accounts.get('th'))?.userId, '@old:example.org');
  await store.close();
  assert.deepEqual(sqlitePending(path), []);
  const reopened = new Database(path, { readonly: true });
  assert.deepEqual(reopened.prepare('SELECT version FROM schema_migrations').all(), [{ version: 1 }, { version: 2 }]);
  reopened.close();
});

describe('postgresql specifics', { skip: postgresUri ? undefined : 'set UNISD_TEST_POSTGRES_URI to run it' }, () => {
  it('two stores opening together on a fresh schema migrate it once, under the advisory lock', async () => {
    const options = postgresOptions();
    const [first, second] = await Promise.all([openPostgresStore(options), openPostgresStore(options)]);
    try {
      const rows = await first.db.query('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.map((r) => r.version), POSTGRESQL_MIGRATIONS.map((m) => m.version));
      await first.binds.put(association('alice@example.com', '@alice:example.org'));
      assert.equal((await second.binds.get('email', 'alice@example.com'))?.mxid, '@alice:example.org', 'one state');
    } finally {
      await second.close();
      await disposePostgres(first);
    }
  });

  it('the dry run lists every migration for a fresh schema, writes nothing, and none once migrated', async () => {
    const options = postgresOptions();
    const probe = createPool(options);
    try {
      assert.deepEqual((await postgresPending(probe)).map((m) => m.version), POSTGRESQL_MIGRATIONS.map((m) => m.version));
      const [{ n }] = await probe.query('SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1', [options.schema]);
      assert.equal(n, 0, 'the schema was not created');
      const store = await openPostgresStore(options);
      assert.deepEqual(await postgresPending(probe), []);
      await disposePostgres(store);
    } finally {
      await probe.close();
    }
  });

  it('refuses a schema migrated by a newer unisd, naming both versions', async () => {
    const options = postgresOptions();
    const store = await openPostgresStore(options);
    try {
      const newer = POSTGRESQL_MIGRATIONS.length + 1;
      await store.db.run("INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')", [newer]);
      await assert.rejects(openPostgresStore(options), { message: `the database schema is at version ${newer}, newer than this unisd knows (${POSTGRESQL_MIGRATIONS.length}): run a newer unisd` });
    } finally {
      await disposePostgres(store);
    }
  });

  it('commits synchronously even when the connection string turns synchronous_commit off', async () => {
    const uri = new URL(postgresUri!);
    uri.searchParams.set('options', '-c synchronous_commit=off');
    const store = await openPostgresStore(postgresOptions({ uri: uri.href }));
    try {
      const [{ synchronous_commit: level }] = await store.db.query('SHOW synchronous_commit');
      assert.equal(level, 'on');
    } finally {
      await disposePostgres(store);
    }
  });

  it('keeps data across close and reopen, in the configured schema only', async () => {
    const options = postgresOptions();
    const first = await openStore(testConfig({ storage: { backend: 'postgresql', postgresql: { uri: options.uri, schema: options.schema } } }).storage);
    await first.binds.put(association('alice@example.com', '@alice:example.org'));
    await first.peppers.swapPepperState(null, pepperState('p1', { altPeppers: ['p0'] }));
    await first.hashes.replace('p1', [entries(3)]);
    await first.close();
    const second = await openPostgresStore(options);
    try {
      assert.deepEqual(await second.binds.get('email', 'alice@example.com'), association('alice@example.com', '@alice:example.org'));
      assert.deepEqual(await second.peppers.getPepperState(), pepperState('p1', { altPeppers: ['p0'] }));
      assert.deepEqual(await second.hashes.lookup('p1', ['h2']), [{ hash: 'h2', mxid: '@user2:example.org' }]);
      const [{ schema }] = await second.db.query("SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'associations' AND table_schema = $1", [options.schema]);
      assert.equal(schema, options.schema);
    } finally {
      await disposePostgres(second);
    }
  });

  it('lookups running during replacements see one whole table each, never a mix or none', async () => {
    const store = await openPostgresStore(postgresOptions());
    try {
      await store.hashes.replace('p1', [entries(200, 'g0-')]);
      const asked = ['g0-', 'g1-', 'g2-', 'g3-'].flatMap((prefix) => Array.from({ length: 200 }, (_, i) => `${prefix}${i}`));
      let replacing = true;
      const seen = new Set<string>();
      const looking = (async () => {
        while (replacing) {
          const found = await store.hashes.lookup('p1', asked);
          const prefixes = new Set(found.map((e) => e.hash.split('-')[0]));
          assert.equal(found.length, 200, 'a whole table');
          assert.equal(prefixes.size, 1, 'one table');
          seen.add([...prefixes][0]);
        }
      })();
      for (const generation of [1, 2, 3]) await store.hashes.replace('p1', [entries(100, `g${generation}-`), entries(200, `g${generation}-`)]);
      replacing = false;
      await looking;
      assert.ok(seen.size > 0, 'lookups ran while replacing');
      const after = await store.hashes.lookup('p1', asked);
      assert.deepEqual([...new Set(after.map((e) => e.hash.split('-')[0]))], ['g3'], 'the last table, whole');
      assert.equal(after.length, 200);
    } finally {
      await disposePostgres(store);
    }
  });

  it('two instances replacing one pepper\'s table at once: both succeed, one table whole remains, nothing left behind', async () => {
    const options = postgresOptions();
    const [first, second] = await Promise.all([openPostgresStore(options), openPostgresStore(options)]);
    try {
      await first.hashes.replace('p1', [entries(50, 'old-')]);
      await Promise.all([first.hashes.replace('p1', [entries(50, 'a-')]), second.hashes.replace('p1', [entries(50, 'b-')])]);
      const found = await first.hashes.lookup('p1', ['old-', 'a-', 'b-'].flatMap((prefix) => entries(50, prefix).map((e) => e.hash)));
      assert.equal(found.length, 50);
      assert.equal(new Set(found.map((e) => e.hash.split('-')[0])).size, 1, 'one table');
      assert.deepEqual((await first.db.query('SELECT count(*) AS n FROM hash_sets'))[0].n, 1);
      assert.equal((await first.db.query("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'hash_entries'::regclass"))[0].n, 1);
    } finally {
      await second.close();
      await disposePostgres(first);
    }
  });

  it('a query waits storage.postgresql.connectionTimeout for a connection of a full pool, then fails', async () => {
    const store = await openPostgresStore(postgresOptions({ maxConnections: 1, connectionTimeout: 200 }));
    const held = await store.db.connect();
    try {
      await assert.rejects(store.ping(), /timeout/);
    } finally {
      held.release();
      await disposePostgres(store);
    }
  });

  it('removes at start the hash table generations a crashed replacement left, keeps the active ones', async () => {
    const options = postgresOptions();
    const first = await openPostgresStore(options);
    try {
      await first.hashes.replace('p1', [entries(2, 'kept')]);
      // What a crash leaves: a generation registered long ago, never made active; and one being written now.
      const hour = 3_600_000;
      for (const [name, touchedAt] of [['dead', Date.now() - 2 * hour], ['live', Date.now()]] as const) {
        const [{ generation }] = await first.db.query('INSERT INTO hash_sets (pepper, touched_at) VALUES ($1, $2) RETURNING generation', [name, touchedAt]);
        await first.db.run(`CREATE TABLE hash_entries_${generation} PARTITION OF hash_entries FOR VALUES IN (${generation})`);
      }
      const second = await openPostgresStore(options);
      await second.close();
      const left = await first.db.query('SELECT pepper FROM hash_sets ORDER BY pepper');
      assert.deepEqual(left.map((r) => r.pepper), ['live', 'p1']);
      const partitions = await first.db.query("SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'hash_entries'::regclass");
      assert.equal(partitions[0].n, 2);
      assert.equal((await first.hashes.lookup('p1', ['kept0', 'kept1'])).length, 2);
    } finally {
      await disposePostgres(first);
    }
  });
});
