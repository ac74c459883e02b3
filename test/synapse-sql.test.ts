/**
 * The `synapseSql` identity provider on a Synapse-shaped database (Synapse's own column
 * definitions: test/helpers/synapse-schema.ts): SQLite always, PostgreSQL when
 * UNISD_TEST_POSTGRES_URI is set. Deactivated users are not found; the hash source is the seed's
 * query over user_threepid_id_server unless overridden, streamed; lookups through the app find a
 * Synapse user, by address or by hash, and go on without a database that is down or hangs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { IdentityProvider, Mapping } from '../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../core/providers/provider.js';
import { synapseSqlProvider } from '../plugins/synapse-sql/provider.js';
import { normaliseEmail } from '../core/threepid.js';
import { testApp, testConfig } from './helpers/app.js';
import { createTestDatabase, numbers, unavailable, type TestDatabase } from './helpers/sql-databases.js';
import { measureStream } from './helpers/heap.js';
import { freePort, hangingServer } from './helpers/net.js';
import { synapseSchema } from './helpers/synapse-schema.js';
import { lookupByHash } from './helpers/hash-app.js';

const silent = pino({ level: 'silent' });
const signal = () => AbortSignal.timeout(5000);
const BIG = 100_000;

const DATA = [
  `INSERT INTO users (name, creation_ts, deactivated) VALUES
    ('@alice:example.org', 1700000000, 0), ('@bob:example.org', 1700000000, 0),
    ('@carol:example.org', 1700000000, 0), ('@mallory:example.org', 1700000000, 1)`,
  `INSERT INTO user_threepids (user_id, medium, address, validated_at, added_at) VALUES
    ('@alice:example.org', 'email', 'alice@example.org', 1700000000000, 1700000000000),
    ('@alice:example.org', 'msisdn', '447700900001', 1700000000000, 1700000000000),
    ('@bob:example.org', 'email', 'bob@example.org', 1700000000000, 1700000000000),
    ('@carol:example.org', 'email', 'strauss@straße.de', 1700000000000, 1700000000000),
    ('@mallory:example.org', 'email', 'mallory@example.org', 1700000000000, 1700000000000)`,
  // Bound through Synapse to an identity server; carol's row predates Synapse's canonical case.
  `INSERT INTO user_threepid_id_server (user_id, medium, address, id_server) VALUES
    ('@alice:example.org', 'email', 'alice@example.org', 'id.example.org'),
    ('@alice:example.org', 'msisdn', '447700900001', 'id.example.org'),
    ('@carol:example.org', 'email', 'Carol@Example.ORG', 'id.example.org')`,
];

const byMxid = (mappings: Mapping[]) => [...mappings].sort((a, b) => `${a.mxid}${a.medium}`.localeCompare(`${b.mxid}${b.medium}`));

async function collect(provider: IdentityProvider): Promise<Mapping[]> {
  const all: Mapping[] = [];
  for await (const batch of provider.mappings!(signal())) all.push(...batch);
  return all;
}

for (const kind of ['sqlite', 'postgresql'] as const) {
  describe(`synapseSql provider on ${kind}`, { skip: unavailable(kind) }, () => {
    let db: TestDatabase;
    const providers: IdentityProvider[] = [];
    const build = async (overrides: Record<string, unknown> = {}) => {
      const config = testConfig({ synapseSql: { enabled: true, type: kind, connection: db.connection, ...overrides } });
      const provider = await synapseSqlProvider(config.synapseSql, { domain: '', timeout: 5000, log: silent });
      providers.push(provider);
      return provider;
    };
    before(async () => {
      db = await createTestDatabase(kind);
      await db.exec([...synapseSchema(kind), ...DATA]);
    });
    after(async () => {
      for (const provider of providers) await provider.close?.();
      await db?.drop();
    });

    test(`synapseSql/${kind}: single lookups find active users' 3PIDs, not a deactivated user's`, async () => {
      const provider = await build();
      assert.equal(await provider.lookup({ medium: 'email', address: 'alice@example.org' }, signal()), '@alice:example.org');
      assert.equal(await provider.lookup({ medium: 'msisdn', address: '447700900001' }, signal()), '@alice:example.org');
      assert.equal(await provider.lookup({ medium: 'email', address: 'mallory@example.org' }, signal()), null);
      assert.equal(await provider.lookup({ medium: 'email', address: '\' OR 1=1 --' }, signal()), null);
    });

    test(`synapseSql/${kind}: an address a client typed is found as Synapse canonicalised it (local part folded, domain lower-cased)`, async () => {
      const provider = await build();
      const typed = normaliseEmail('Strauß@Straße.DE')!;
      assert.equal(await provider.lookup({ medium: 'email', address: typed }, signal()), '@carol:example.org');
      assert.deepEqual(await provider.bulkLookup([{ medium: 'email', address: typed }], signal()), [{ medium: 'email', address: 'strauss@straße.de', mxid: '@carol:example.org' }]);
    });

    test(`synapseSql/${kind}: bulk lookup is one query per medium and answers only what was asked, deactivated users left out`, async () => {
      const provider = await build();
      assert.equal(provider.capabilities.bulk, true);
      const found = await provider.bulkLookup([
        { medium: 'email', address: 'alice@example.org' },
        { medium: 'msisdn', address: '447700900001' },
        { medium: 'email', address: 'bob@example.org' },
        { medium: 'email', address: 'mallory@example.org' },
        { medium: 'email', address: '\' OR 1=1 --' },
        { medium: 'email', address: 'nobody@example.org' },
      ], signal());
      assert.deepEqual(byMxid(found), [
        { medium: 'email', address: 'alice@example.org', mxid: '@alice:example.org' },
        { medium: 'msisdn', address: '447700900001', mxid: '@alice:example.org' },
        { medium: 'email', address: 'bob@example.org', mxid: '@bob:example.org' },
      ]);
    });

    test(`synapseSql/${kind}: the hash source is by default the seed's query over user_threepid_id_server, addresses normalised`, async () => {
      const provider = await build();
      assert.equal(provider.capabilities.hashSource, true);
      assert.deepEqual(byMxid(await collect(provider)), [
        { medium: 'email', address: 'alice@example.org', mxid: '@alice:example.org' },
        { medium: 'msisdn', address: '447700900001', mxid: '@alice:example.org' },
        { medium: 'email', address: 'carol@example.org', mxid: '@carol:example.org' },
      ]);
    });

    test(`synapseSql/${kind}: lookup.query overrides the hash source, as the seed shows; an own identity query makes bulk single`, async () => {
      const provider = await build({
        lookup: { query: 'select t.user_id as mxid, t.medium, t.address from user_threepids t join users u on u.name = t.user_id where u.deactivated = 0' },
        identity: { query: 'SELECT user_id AS uid FROM user_threepid_id_server WHERE medium = ? AND address = ?' },
      });
      assert.deepEqual(byMxid(await collect(provider)).map((m) => m.address), ['alice@example.org', '447700900001', 'bob@example.org', 'strauss@straße.de']);
      assert.equal(provider.capabilities.bulk, false);
      assert.equal(await provider.lookup({ medium: 'email', address: 'bob@example.org' }, signal()), null);
      assert.deepEqual(await provider.bulkLookup([{ medium: 'email', address: 'alice@example.org' }], signal()), [
        { medium: 'email', address: 'alice@example.org', mxid: '@alice:example.org' },
      ]);
    });

    test(`synapseSql/${kind}: the hash source streams ${BIG} rows of user_threepid_id_server in batches with bounded heap growth`, async () => {
      const big = await createTestDatabase(kind);
      const who = (prefix: string, suffix: string) => `'${prefix}' || CAST(n AS TEXT) || '${suffix}'`;
      try {
        await big.exec([...synapseSchema(kind), `INSERT INTO user_threepid_id_server (user_id, medium, address, id_server)
          SELECT ${who('@user', ':example.org')}, 'email', ${who('User', '@Example.org')}, 'id.example.org' FROM (${numbers(kind, BIG)}) AS s`]);
        const config = testConfig({ synapseSql: { enabled: true, type: kind, connection: big.connection } });
        const provider = await synapseSqlProvider(config.synapseSql, { domain: '', timeout: 5000, log: silent });
        try {
          const measured = await measureStream(provider.mappings!(AbortSignal.timeout(120_000)));
          assert.equal(measured.mappings, BIG);
          assert.ok(measured.largestBatch <= MAPPING_BATCH_SIZE);
          // Holding 100k mappings costs well over 10 MB; a cursor holds one batch.
          assert.ok(measured.peakGrowth < 5 * 1024 * 1024, `heap grew by ${measured.peakGrowth} bytes`);
        } finally {
          await provider.close?.();
        }
      } finally {
        await big.drop();
      }
    });

    test(`synapseSql/${kind}: a sha256 hash lookup through the running app finds what the hash source lists, Carol@Example.ORG by its normalised hash`, async (t) => {
      const found = await lookupByHash(t, { synapseSql: { enabled: true, type: kind, connection: db.connection } }, [
        { medium: 'email', address: 'carol@example.org' }, { medium: 'msisdn', address: '447700900001' },
        // The stored spelling is not what a client hashes; bob is in user_threepids only, not in the seed's hash source.
        { medium: 'email', address: 'Carol@Example.ORG' }, { medium: 'email', address: 'bob@example.org' },
      ]);
      assert.deepEqual(found, { 'carol@example.org email': '@carol:example.org', '447700900001 msisdn': '@alice:example.org' });
    });

    test(`synapseSql/${kind}: a v1 lookup through the app finds a Synapse user`, async (t) => {
      const app = await testApp({ synapseSql: { enabled: true, type: kind, connection: db.connection } });
      t.after(() => app.close());
      const res = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=Alice%40Example.org' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().mxid, '@alice:example.org');
    });
  });
}

const memory = { enabled: true, identities: [{ username: '@zoe:example.org', threepids: [{ medium: 'email', address: 'zoe@example.org' }] }] };

for (const state of ['down', 'hanging'] as const) {
  test(`synapseSql: a PostgreSQL database that is ${state} is skipped and a v1 bulk lookup (its built-in bulk query) answers with the others' mappings`, async (t) => {
    const hanging = state === 'hanging' ? await hangingServer() : undefined;
    const port = hanging?.port ?? await freePort();
    const app = await testApp({ memory, providers: { timeout: '300ms' }, synapseSql: { enabled: true, type: 'postgresql', connection: `postgresql://synapse@127.0.0.1:${port}/synapse` } });
    t.after(async () => {
      await app.close();
      await hanging?.close();
    });
    const res = await app.inject({
      method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup',
      payload: { threepids: [['email', 'zoe@example.org'], ['email', 'alice@example.org']] },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().threepids, [['email', 'zoe@example.org', '@zoe:example.org']]);
    const failures = app.providers.failures.get('synapseSql');
    assert.equal(state === 'hanging' ? failures?.timeout : failures?.error, 1);
  });
}

test('synapseSql: a MySQL type is refused at start with one line naming the key', async () => {
  await assert.rejects(
    testApp({ synapseSql: { enabled: true, type: 'mysql', connection: 'mysql://root@127.0.0.1/synapse' } }),
    /^Error: config error: synapseSql\.type: expected postgresql or sqlite/,
  );
});
