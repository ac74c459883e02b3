/**
 * The `sql` identity provider against real databases: SQLite always, PostgreSQL and MariaDB when
 * UNISD_TEST_POSTGRES_URI / UNISD_TEST_MARIADB_URI are set (each suite creates and drops its own
 * database). Then, through a real app: a database that is down or hangs is skipped and the
 * lookup answers with what the other providers found.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { IdentityProvider, Mapping } from '../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../core/providers/provider.js';
import { sqlProvider } from '../plugins/sql/provider.js';
import { createDriver } from '../plugins/sql/driver.js';
import { countPlaceholders, driverSql } from '../plugins/sql/placeholders.js';
import { loadConfig } from '../core/config/load.js';
import { testApp, testConfig } from './helpers/app.js';
import { freePort, hangingServer } from './helpers/net.js';
import { measureStream } from './helpers/heap.js';
import { lookupByHash } from './helpers/hash-app.js';
import { concat, createTestDatabase, numbers, unavailable, type TestDatabase, type TestDbKind } from './helpers/sql-databases.js';

const silent = pino({ level: 'silent' });
const INJECTION = '\' OR 1=1 --';
const BIG = 100_000;

async function collect(provider: IdentityProvider): Promise<Mapping[]> {
  const all: Mapping[] = [];
  for await (const batch of provider.mappings!(AbortSignal.timeout(60_000))) {
    assert.ok(batch.length <= MAPPING_BATCH_SIZE);
    all.push(...batch);
  }
  return all;
}

/** The operator's own schema: a table of logins and their 3PIDs, as a company directory might keep them. */
function fixture(kind: TestDbKind): string[] {
  return [
    'CREATE TABLE threepids (login VARCHAR(64) NOT NULL, medium VARCHAR(16) NOT NULL, address VARCHAR(255) NOT NULL)',
    `INSERT INTO threepids (login, medium, address) VALUES
      ('alice', 'email', 'Alice@Example.COM'),
      ('bob', 'msisdn', '441632960000'),
      ('carol', 'msisdn', '+44 1632 960001'),
      ('dave', 'fax', '12345'),
      ('erin', 'email', 'not an address')`,
    'CREATE TABLE directory (login VARCHAR(64) NOT NULL, mail VARCHAR(255) NOT NULL)',
    `INSERT INTO directory (login, mail) SELECT ${concat(kind, '\'user\'', 'CAST(n AS CHAR(10))')}, ${concat(kind, '\'user\'', 'CAST(n AS CHAR(10))', '\'@Example.org\'')} FROM (${numbers(kind, BIG)}) AS s`,
  ];
}

/** The config (YAML shape) of a provider on the fixture's threepids table. */
function sqlOverrides(kind: TestDbKind, connection: string, overrides: Record<string, unknown> = {}) {
  return {
    matrix: { domain: 'example.org' },
    sql: {
      enabled: true,
      type: kind,
      connection,
      identity: {
        type: 'localpart',
        query: 'SELECT login AS uid FROM threepids WHERE medium = ? AND lower(address) = ?',
        medium: { msisdn: 'SELECT login AS uid FROM threepids WHERE medium = \'msisdn\' AND address = ?' },
      },
      lookup: { query: 'SELECT login AS mxid, medium, address FROM threepids' },
      ...overrides,
    },
  };
}

const sqlConfig = (kind: TestDbKind, connection: string, overrides: Record<string, unknown> = {}) => testConfig(sqlOverrides(kind, connection, overrides));

const build = (config: ReturnType<typeof testConfig>) =>
  sqlProvider({ key: 'sql', config: config.sql }, { domain: config.matrix.domain, timeout: 5000, log: silent });

for (const kind of ['sqlite', 'postgresql', 'mariadb'] as const) {
  describe(`sql provider on ${kind}`, { skip: unavailable(kind) }, () => {
    let db: TestDatabase;
    let provider: IdentityProvider;
    before(async () => {
      db = await createTestDatabase(kind);
      await db.exec(fixture(kind));
      provider = await build(sqlConfig(kind, db.connection));
    });
    after(async () => {
      await provider?.close?.();
      await db?.drop();
    });

    test(`sql/${kind}: single lookups through ma1sd's query convention (medium, address) and a per-medium query (address)`, async () => {
      const signal = AbortSignal.timeout(5000);
      assert.equal(await provider.lookup({ medium: 'email', address: 'alice@example.com' }, signal), '@alice:example.org');
      assert.equal(await provider.lookup({ medium: 'msisdn', address: '441632960000' }, signal), '@bob:example.org');
      assert.equal(await provider.lookup({ medium: 'email', address: 'nobody@example.com' }, signal), null);
    });

    test(`sql/${kind}: bulk lookup answers the known 3PIDs (one lookup each: ma1sd's queries are single)`, async () => {
      assert.equal(provider.capabilities.bulk, false);
      const found = await provider.bulkLookup([
        { medium: 'email', address: 'alice@example.com' },
        { medium: 'email', address: 'nobody@example.com' },
        { medium: 'msisdn', address: '441632960000' },
      ], AbortSignal.timeout(5000));
      assert.deepEqual(found, [
        { medium: 'email', address: 'alice@example.com', mxid: '@alice:example.org' },
        { medium: 'msisdn', address: '441632960000', mxid: '@bob:example.org' },
      ]);
    });

    test(`sql/${kind}: identity.enabled: false serves no medium (the registry never asks it) and keeps the hash source`, async () => {
      const hashOnly = await build(sqlConfig(kind, db.connection, { identity: { enabled: false, type: 'localpart' } }));
      try {
        assert.deepEqual(hashOnly.capabilities.media, []);
        assert.equal((await collect(hashOnly)).length, 3);
      } finally {
        await hashOnly.close?.();
      }
    });

    test(`sql/${kind}: an injection attempt as the address finds nothing`, async () => {
      const signal = AbortSignal.timeout(5000);
      assert.equal(await provider.lookup({ medium: 'email', address: INJECTION }, signal), null);
      assert.equal(await provider.lookup({ medium: 'msisdn', address: INJECTION }, signal), null);
      assert.equal(await provider.lookup({ medium: 'email', address: `x${INJECTION.replace('\'', '\\\'')}` }, signal), null);
      assert.deepEqual(await provider.bulkLookup([{ medium: 'email', address: INJECTION }], signal), []);
    });

    test(`sql/${kind}: the hash source normalises addresses and skips rows it cannot read`, async () => {
      assert.equal(provider.capabilities.hashSource, true);
      const all = await collect(provider);
      assert.deepEqual(all.sort((a, b) => a.mxid.localeCompare(b.mxid)), [
        { medium: 'email', address: 'alice@example.com', mxid: '@alice:example.org' },
        { medium: 'msisdn', address: '441632960000', mxid: '@bob:example.org' },
        { medium: 'msisdn', address: '441632960001', mxid: '@carol:example.org' },
      ]);
    });

    test(`sql/${kind}: a sha256 hash lookup through the running app finds the database's 3PIDs by their normalised hashes (Alice@Example.COM as alice@example.com)`, async (t) => {
      const found = await lookupByHash(t, sqlOverrides(kind, db.connection), [
        { medium: 'email', address: 'alice@example.com' }, { medium: 'msisdn', address: '441632960001' },
        // The table's own spelling is not what a client hashes; an unknown address finds nothing.
        { medium: 'email', address: 'Alice@Example.COM' }, { medium: 'email', address: 'nobody@example.com' },
      ]);
      assert.deepEqual(found, { 'alice@example.com email': '@alice:example.org', '441632960001 msisdn': '@carol:example.org' });
    });

    test(`sql/${kind}: the hash source streams ${BIG} rows in batches with bounded heap growth`, async () => {
      const big = await build(sqlConfig(kind, db.connection, {
        lookup: { query: 'SELECT login AS mxid, \'email\' AS medium, mail AS address FROM directory' },
      }));
      try {
        const { mappings: items, peakGrowth: growth } = await measureStream(big.mappings!(AbortSignal.timeout(120_000)));
        assert.equal(items, BIG);
        // Holding 100k mappings costs well over 10 MB; a cursor holds one batch.
        assert.ok(growth < 5 * 1024 * 1024, `heap grew by ${growth} bytes`);
      } finally {
        await big.close?.();
      }
    });

    if (kind !== 'sqlite') test(`sql/${kind}: more concurrent lookups than pool.size wait their turn, and the pool opens at most pool.size connections`, async () => {
      const small = await build(sqlConfig(kind, db.connection, { pool: { size: 2 } }));
      const database = new URL(db.connection).pathname.slice(1);
      const connections = kind === 'postgresql'
        ? `SELECT COUNT(*)::int FROM pg_stat_activity WHERE application_name = 'unisd' AND datname = '${database}'`
        : `SELECT COUNT(*) FROM information_schema.processlist WHERE db = '${database}' AND id <> CONNECTION_ID()`;
      try {
        // Other providers of this suite may hold connections: count what this one adds.
        const before = Number(await db.scalar(connections));
        const answers = await Promise.all(Array.from({ length: 20 }, () => small.lookup({ medium: 'email', address: 'alice@example.com' }, AbortSignal.timeout(5000))));
        assert.deepEqual(new Set(answers), new Set(['@alice:example.org']));
        const added = Number(await db.scalar(connections)) - before;
        assert.ok(added <= 2, `${added} connections opened`);
      } finally {
        await small.close?.();
      }
    });

    // SQLite's statements are synchronous: nothing runs to be aborted.
    if (kind !== 'sqlite') test(`sql/${kind}: an aborted statement fails at once (its connection dropped) and the next query works`, async () => {
      const driver = await createDriver({ type: kind, connection: db.connection, poolSize: 2, idleTimeout: 30_000, timeout: 60_000 });
      try {
        const controller = new AbortController();
        const sleep = kind === 'postgresql' ? 'SELECT pg_sleep(30) AS slept' : 'SELECT SLEEP(30) AS slept';
        const running = kind === 'postgresql'
          ? 'SELECT COUNT(*)::int FROM pg_stat_activity WHERE query = \'SELECT pg_sleep(30) AS slept\' AND state = \'active\''
          : 'SELECT COUNT(*) FROM information_schema.processlist WHERE info = \'SELECT SLEEP(30) AS slept\'';
        const answer = driver.query(sleep, [], controller.signal);
        // Abort once the server runs it (without the abort, it answers after 30 s and the test fails).
        while (Number(await db.scalar(running)) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        controller.abort();
        await assert.rejects(answer);
        assert.deepEqual(await driver.query('SELECT 1 AS one', [], AbortSignal.timeout(5000)), [{ one: 1 }]);
      } finally {
        await driver.close();
      }
    });

    test(`sql/${kind}: a consumer slower than providers.timeout between batches still reads the whole hash source`, async () => {
      const config = sqlConfig(kind, db.connection, { lookup: { query: 'SELECT login AS mxid, \'email\' AS medium, mail AS address FROM directory' } });
      const slow = await sqlProvider({ key: 'sql', config: config.sql }, { domain: 'example.org', timeout: 100, log: silent });
      try {
        let items = 0;
        for await (const batch of slow.mappings!(AbortSignal.timeout(60_000))) {
          // The hash index may take its time over a batch (a busy worker pool): longer than the lookup deadline.
          if (items === 0) await new Promise((resolve) => setTimeout(resolve, 250));
          items += batch.length;
        }
        assert.equal(items, BIG);
      } finally {
        await slow.close?.();
      }
    });

    test(`sql/${kind}: a hash source aborted mid-stream stops with the abort, and lookups go on`, async () => {
      const big = await build(sqlConfig(kind, db.connection, {
        lookup: { query: 'SELECT login AS mxid, \'email\' AS medium, mail AS address FROM directory' },
      }));
      try {
        const controller = new AbortController();
        let batches = 0;
        await assert.rejects(async () => {
          for await (const batch of big.mappings!(controller.signal)) {
            assert.equal(batch.length, MAPPING_BATCH_SIZE);
            batches++;
            controller.abort();
          }
        });
        assert.equal(batches, 1);
        assert.equal(await big.lookup({ medium: 'email', address: 'alice@example.com' }, AbortSignal.timeout(5000)), '@alice:example.org');
      } finally {
        await big.close?.();
      }
    });

    test(`sql/${kind}: a consumer that stops early releases the cursor, and lookups go on`, async () => {
      for await (const batch of provider.mappings!(AbortSignal.timeout(5000))) {
        assert.ok(batch.length > 0);
        break;
      }
      assert.equal(await provider.lookup({ medium: 'email', address: 'alice@example.com' }, AbortSignal.timeout(5000)), '@alice:example.org');
    });
  });
}

test('sql: ? placeholders are found outside quotes and comments, and numbered for PostgreSQL', () => {
  const sql = 'SELECT \'?\' AS "a?", $$?$$ FROM t -- ?\nWHERE a = ? /* ? */ AND b ?? \'k\' AND c = ?';
  assert.equal(countPlaceholders(sql, 'postgresql'), 2);
  assert.equal(driverSql(sql, 'postgresql'), 'SELECT \'?\' AS "a?", $$?$$ FROM t -- ?\nWHERE a = $1 /* ? */ AND b ? \'k\' AND c = $2');
  assert.equal(countPlaceholders('SELECT `?` FROM t WHERE a = \'it\\\'s ?\' AND b = ? # ?', 'mysql'), 1);
  assert.equal(countPlaceholders('SELECT uid FROM t WHERE medium = ? AND address = ?', 'sqlite'), 2);
});

const memory = { enabled: true, identities: [{ username: '@alice:example.org', threepids: [{ medium: 'email', address: 'alice@example.org' }] }] };

for (const type of ['postgresql', 'mysql'] as const) {
  const url = (port: number) => `${type}://unisd@127.0.0.1:${port}/unisd`;
  for (const state of ['down', 'hanging'] as const) {
    test(`sql: a ${type} database that is ${state} is skipped and a v1 bulk lookup answers with the others' mappings`, async (t) => {
      const hanging = state === 'hanging' ? await hangingServer() : undefined;
      const port = hanging?.port ?? await freePort();
      const app = await testApp({ memory, providers: { timeout: '300ms' }, sql: { enabled: true, type, connection: url(port) } });
      t.after(async () => {
        await app.close();
        await hanging?.close();
      });
      const res = await app.inject({
        method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup',
        payload: { threepids: [['email', 'alice@example.org'], ['email', 'nobody@example.org']] },
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().threepids, [['email', 'alice@example.org', '@alice:example.org']]);
      const failures = app.providers.failures.get('sql');
      assert.equal(state === 'hanging' ? failures?.timeout : failures?.error, 1);
    });
  }
}

test('sql: ma1sd sql and synapseSql sections load unchanged (directory, profile and auth settings accepted)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-ma1sd-'));
  const file = join(dir, 'ma1sd.yaml');
  writeFileSync(file, `
matrix:
  domain: example.org
sql:
  enabled: true
  type: mariadb
  connection: //db.example.org:3306/identity?user=ma1sd&password=secret
  directory:
    enabled: false
    query:
      name:
        type: localpart
        value: 'SELECT idColumn, displayNameColumn FROM table WHERE displayNameColumn LIKE ?'
  identity:
    enabled: true
    type: uid
    query: 'SELECT user_id AS uid FROM user_threepid_id_server WHERE medium = ? AND address = ?'
    medium:
      email: 'SELECT login AS uid FROM people WHERE mail = ? AND ? IS NOT NULL'
  profile:
    enabled: false
  lookup:
    query: 'select user as mxid, field1 as medium, field2 as address from some_table'
synapseSql:
  enabled: true
  type: postgresql
  connection: //localhost/synapse?user=synapse&password=secret
  legacyRoomNames: false
  lookup:
    query: 'select user_id as mxid, medium, address from user_threepid_id_server'
`);
  try {
    const config = loadConfig({ file, env: {} });
    assert.equal(config.sql.identity.type, 'uid');
    assert.equal(config.sql.identity.medium.email, 'SELECT login AS uid FROM people WHERE mail = ? AND ? IS NOT NULL');
    assert.equal(config.synapseSql.connection, '//localhost/synapse?user=synapse&password=secret');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sql: settings the schema cannot check stop the start with one line naming the key', async () => {
  const start = (sql: Record<string, unknown>, matrix: Record<string, unknown> = { domain: 'example.org' }) =>
    testApp({ matrix, sql: { enabled: true, type: 'sqlite', connection: '/nonexistent/x.db', ...sql } });
  await assert.rejects(start({ connection: '' }), /^Error: config error: sql\.connection: expected a connection string/);
  await assert.rejects(start({ identity: { query: 'SELECT uid FROM t' } }), /^Error: config error: sql\.identity\.query: expected a query with \? for the address.*it has 0 parameters$/);
  await assert.rejects(start({ identity: { medium: { msisdn: 'SELECT uid FROM t WHERE a = ? AND b = ? AND c = ?' } } }), /^Error: config error: sql\.identity\.medium\.msisdn: .*it has 3 parameters$/);
  await assert.rejects(start({ identity: { type: 'localpart' } }, {}), /^Error: config error: sql\.identity\.type: localpart needs matrix\.domain/);
  await assert.rejects(start({ lookup: { query: 'SELECT mxid, medium, address FROM t WHERE x = ?' } }), /^Error: config error: sql\.lookup\.query: expected a query without parameters/);
  await assert.rejects(start({ pool: { size: 0 } }), /^Error: config error: sql\.pool\.size: expected 1 or more/);
  assert.throws(() => testConfig({ sql: { identity: { medium: { fax: 'SELECT 1' } } } }), /sql\.identity\.medium\.fax: unknown key, expected email, msisdn/);
});

test('sql: a SQLite file that does not exist fails lookups (skipped by the registry) and does not stop the start', async (t) => {
  const app = await testApp({ memory, sql: { enabled: true, type: 'sqlite', connection: '/nonexistent/unisd.db' } });
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=bob%40example.org' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {});
  assert.equal(app.providers.failures.get('sql')?.error, 1);
});
