/**
 * Several unisd instances on one store: three real `unisd start` processes sharing one
 * PostgreSQL schema (or MongoDB database, a replica set), each with its own in_memory hash index.
 * In order, one test per Done-when item of issue 16:
 *   - a bind on instance 1 is found by hashed lookup on 2 and 3 within the bound; an unbind goes
 *     likewise (the instances poll the change log only every 30 s here: what arrives sooner came
 *     through the store's notification);
 *   - (PostgreSQL) LISTEN connections the server cuts are reopened, missing no change;
 *   - the shared rate limit (Redis) holds across the three;
 *   - a timed rotation happens once, while a client keeps doing hash_details then lookup against
 *     random instances: no lookup fails, all three then answer the new pepper and accept the old;
 *   - the holder of the next rotation is SIGKILLed mid-rotation (its table build is slow: the
 *     hash source answers after 2 s): another instance completes it, a bind made meanwhile is
 *     in the new table;
 *   - an onbind queued on an instance that is then SIGKILLed is delivered by another.
 * No sleeps: every wait is on a log line or a poll with a deadline.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { MongoClient } from 'mongodb';
import { request } from 'undici';
import { stringify } from 'yaml';
import { openStore, type Store } from '../core/store/index.js';
import { hashSecret, randomToken } from '../core/crypto/tokens.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { loadOrCreateSigningKey } from '../core/crypto/key-file.js';
import { testConfig } from './helpers/app.js';
import { startFakeHomeserver, federationConfig, type FakeHomeserver } from './helpers/fake-homeserver.js';

const root = resolve(import.meta.dirname, '..');
const postgresUri = process.env.UNISD_TEST_POSTGRES_URI;
const mongoUri = process.env.UNISD_TEST_MONGODB_URI;
const redisUri = process.env.UNISD_TEST_REDIS_URI;

/** Time between two timed rotations: room for the steps before each. */
const ROTATION_DELAY_S = 20;
/** What the hash source takes to answer: a rotation's build lasts at least this. */
const SLOW_SOURCE_MS = 2000;
const LEASE = '3s';
/** How long a change may take to reach the other instances here (the target is 1 s; the machine is shared). */
const CHANGE_BOUND_MS = 2000;
const SOURCE_USERS = 200;

interface Backend {
  name: string;
  skip?: string;
  storage(id: string): Record<string, unknown>;
  drop(id: string): Promise<void>;
}

const BACKENDS: Backend[] = [
  {
    name: 'postgresql',
    skip: postgresUri ? undefined : 'set UNISD_TEST_POSTGRES_URI to run it',
    storage: (id) => ({ backend: 'postgresql', postgresql: { uri: postgresUri, schema: id, maxConnections: 4 } }),
    async drop(id) {
      const client = new pg.Client({ connectionString: postgresUri });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${id}" CASCADE`);
      await client.end();
    },
  },
  {
    name: 'mongodb',
    skip: mongoUri ? undefined : 'set UNISD_TEST_MONGODB_URI (a replica set) to run it',
    storage: (id) => ({ backend: 'mongodb', mongodb: { uri: mongoUri, database: id } }),
    async drop(id) {
      const client = await new MongoClient(mongoUri!).connect();
      await client.db(id).dropDatabase();
      await client.close();
    },
  },
];

interface Instance {
  name: string;
  child: ChildProcess;
  base: string;
  lines: Array<Record<string, any>>;
  /** Resolves with the first log line `match` accepts from now on (or already seen when `seen`). */
  nextLine(match: (line: Record<string, any>) => boolean, timeoutMs: number): Promise<Record<string, any>>;
}

function spawnInstance(name: string, configFile: string): Promise<Instance> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', 'start', '-c', configFile], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Array<Record<string, any>> = [];
  const waiters = new Set<(line: Record<string, any>) => void>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = (() => { try { return JSON.parse(text); } catch { return { msg: text }; } })();
    lines.push(line);
    for (const waiter of [...waiters]) waiter(line);
  });
  const nextLine: Instance['nextLine'] = (match, timeoutMs) => new Promise((done, fail) => {
    const timer = setTimeout(() => { waiters.delete(check); fail(new Error(`${name}: no such log line within ${timeoutMs} ms`)); }, timeoutMs);
    const check = (line: Record<string, any>) => {
      if (!match(line)) return;
      clearTimeout(timer);
      waiters.delete(check);
      done(line);
    };
    waiters.add(check);
  });
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`${name} exited (${code}) before listening`)));
    nextLine((line) => /^Server listening at http:\/\/127\.0\.0\.1:\d+/.test(String(line.msg)), 60_000).then((line) => {
      done({ name, child, lines, nextLine, base: /(http:\/\/127\.0\.0\.1:\d+)/.exec(line.msg)![1] });
    }, fail);
  });
}

async function kill(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  const exited = once(instance.child, 'exit');
  instance.child.kill('SIGKILL');
  await exited;
}

/** Polls `probe` until it returns a value other than undefined; fails past `timeoutMs`. */
async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25)); // a poll's pace, not a wait for something
  }
}

/** The slow hash source: a REST backend listing SOURCE_USERS mappings, each listing after SLOW_SOURCE_MS (and finding nothing by single lookup). */
async function slowRestBackend(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === '/single') {
      // Only a hash source here: single lookups find nothing.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const mappings = Array.from({ length: SOURCE_USERS }, (_, i) => ({ medium: 'email', address: `source${i}@example.org`, id: { type: 'mxid', value: `@source${i}:example.org` } }));
    const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mappings, next: null })), SLOW_SOURCE_MS);
    res.on('close', () => clearTimeout(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

for (const backend of BACKENDS) {
  if (backend.skip) {
    test(`three unisd instances on one ${backend.name} store`, { skip: backend.skip }, () => {});
    continue;
  }
  describe(`three unisd instances on one ${backend.name} store`, { timeout: 240_000 }, () => {
    const id = `unisd_multi_${randomBytes(5).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'unisd-multi-'));
    const configFile = join(dir, 'unisd.yaml');
    const storage = backend.storage(id);
    let store: Store;
    let hs: FakeHomeserver;
    let rest: { url: string; server: Server };
    const instances: Instance[] = [];
    const live = () => instances.filter((i) => i.child.exitCode === null && i.child.signalCode === null);
    const asker = randomToken();

    const headers = { authorization: `Bearer ${asker}`, connection: 'close' };
    const pepperOf = async (instance: Instance): Promise<string> => {
      const res = await request(`${instance.base}/_matrix/identity/v2/hash_details`, { headers });
      assert.equal(res.statusCode, 200);
      return ((await res.body.json()) as { lookup_pepper: string }).lookup_pepper;
    };

    before(async () => {
      hs = await startFakeHomeserver();
      rest = await slowRestBackend();
      // The instances of one deployment share the signing key (one key file, or the same secret).
      loadOrCreateSigningKey(join(dir, 'signing.key'), () => {});
      store = await openStore(testConfig({ storage }).storage);
      await store.accounts.put({ tokenHash: hashSecret(asker), userId: '@asker:example.org', createdAt: Date.now(), expiresAt: null });
      writeFileSync(configFile, stringify({
        server: { port: 0, name: 'id.example.test', publicUrl: 'http://id.example.test' },
        storage,
        keys: { path: join(dir, 'signing.key') },
        matrix: { domain: 'example.org' },
        federation: { ...federationConfig, timeout: '1s' },
        onbind: { initialBackoff: '1s', maxBackoff: '2s' },
        rest: { enabled: true, host: rest.url, hashEnabled: true, endpoints: { identity: { single: '/single', bulk: '', all: '/all' } } },
        hashing: { enabled: true, hashStorageType: 'in_memory', rotationPolicy: 'per_seconds', delay: `${ROTATION_DELAY_S}s`, altPeppers: { lifetime: '10m', count: 2 } },
        instances: { leaseTime: LEASE, pollInterval: '30s' },
        lookup: { rateLimit: { perClient: 6, window: '1h' }, budget: { perToken: 100_000, perUser: 100_000 } },
        rateLimit: redisUri ? { store: 'redis', redis: { uri: redisUri, prefix: `${id}:` } } : { store: 'local' },
      }));
      // One after another: the first creates the schema and the pepper, the others find them.
      for (const name of ['instance 1', 'instance 2', 'instance 3']) instances.push(await spawnInstance(name, configFile));
      // Listening comes before the first table is built (lookups wait for it): wait until all answer.
      await Promise.all(instances.map(pepperOf));
    });

    after(async () => {
      await Promise.all(instances.map(kill));
      await store?.close();
      await backend.drop(id);
      await hs?.close();
      rest?.server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** The Matrix ID `address` maps to through /v2/lookup with `pepper` (null: none); fails on any error answer. */
    const lookup = async (instance: Instance, pepper: string, address: string): Promise<string | null> => {
      const hash = lookupHash(address, 'email', pepper);
      const res = await request(`${instance.base}/_matrix/identity/v2/lookup`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ algorithm: 'sha256', pepper, addresses: [hash] }),
      });
      const body = await res.body.json() as { mappings?: Record<string, string> };
      assert.equal(res.statusCode, 200, `${instance.name}: lookup with pepper ${pepper.slice(0, 4)}…: ${JSON.stringify(body)}`);
      return body.mappings?.[hash] ?? null;
    };
    /** A validated session for `address` (as if validated by mail) and a token of `mxid`'s. */
    const sessionFor = async (address: string, mxid: string) => {
      const sid = randomToken(12);
      const clientSecret = randomToken(12);
      const now = Date.now();
      await store.sessions.create({ sid, medium: 'email', address, clientSecret, tokenHash: hashSecret(randomToken()), sendAttempt: 1, nextLink: null, createdAt: now, updatedAt: now, validatedAt: now });
      const token = randomToken();
      await store.accounts.put({ tokenHash: hashSecret(token), userId: mxid, createdAt: now, expiresAt: null });
      return { sid, clientSecret, token };
    };
    const bind = async (instance: Instance, address: string, mxid: string) => {
      const { sid, clientSecret, token } = await sessionFor(address, mxid);
      const res = await request(`${instance.base}/_matrix/identity/v2/3pid/bind`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sid, client_secret: clientSecret, mxid }),
      });
      assert.equal(res.statusCode, 200, await res.body.text());
      await res.body.dump().catch(() => {});
      return { sid, clientSecret, token };
    };
    /** ms until `address` maps to `expected` by hashed lookup on every one of `on`. */
    const reachesAll = async (on: Instance[], address: string, expected: string | null, bound = CHANGE_BOUND_MS): Promise<number> => {
      const started = Date.now();
      await Promise.all(on.map((instance) => eventually(`${instance.name} sees ${address} → ${expected}`, bound, async () =>
        (await lookup(instance, await pepperOf(instance), address)) === expected ? true : undefined)));
      return Date.now() - started;
    };

    it('a bind on instance 1 is found by hashed lookup on instances 2 and 3 within the bound', async () => {
      await bind(instances[0], 'carol@example.org', '@carol:example.org');
      const ms = await reachesAll(instances.slice(1), 'carol@example.org', '@carol:example.org');
      assert.ok(ms <= CHANGE_BOUND_MS, `${ms} ms`);
    });

    it('an unbind on instance 1 disappears from instances 2 and 3 within the bound', async () => {
      const { sid, clientSecret } = await bind(instances[0], 'dave@example.org', '@dave:example.org');
      await reachesAll(instances.slice(1), 'dave@example.org', '@dave:example.org');
      const res = await request(`${instances[0].base}/_matrix/identity/v2/3pid/unbind`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sid, client_secret: clientSecret, mxid: '@dave:example.org', threepid: { medium: 'email', address: 'dave@example.org' } }),
      });
      assert.equal(res.statusCode, 200, await res.body.text());
      await reachesAll(instances.slice(1), 'dave@example.org', null);
    });

    it('PostgreSQL: LISTEN connections cut by the server are reopened, and a bind made meanwhile still arrives before the next poll', { skip: backend.name === 'postgresql' ? undefined : 'PostgreSQL only' }, async () => {
      const channel = `unisd_changes_${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
      const admin = new pg.Client({ connectionString: postgresUri });
      await admin.connect();
      try {
        const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()", [`LISTEN ${channel}`]);
        assert.equal(rowCount, 3, 'one LISTEN connection per instance');
        await bind(instances[0], 'grace@example.org', '@grace:example.org');
        // Reconnecting takes a second; the instances poll only every 30 s.
        await reachesAll(instances.slice(1), 'grace@example.org', '@grace:example.org', CHANGE_BOUND_MS + 1000);
        await eventually('every instance listens again', 5000, async () =>
          ((await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1', [`LISTEN ${channel}`])).rows[0].n === 3 ? true : undefined));
      } finally {
        await admin.end();
      }
    });

    it('the shared rate limit holds across instances: lookup.rateLimit.perClient 6, two on each, the seventh refused anywhere', { skip: redisUri ? undefined : 'set UNISD_TEST_REDIS_URI to run it' }, async () => {
      const v1 = (instance: Instance, i: number) => request(`${instance.base}/_matrix/identity/api/v1/lookup?medium=email&address=nobody${i}@example.org`, { headers: { connection: 'close' } });
      for (let i = 0; i < 6; i++) {
        const res = await v1(instances[i % 3], i);
        assert.equal(res.statusCode, 200, `lookup ${i} on ${instances[i % 3].name}`);
        await res.body.dump();
      }
      for (const instance of instances) {
        const res = await v1(instance, 99);
        assert.equal(res.statusCode, 429, `${instance.name} refuses the seventh`);
        assert.equal(((await res.body.json()) as { errcode: string }).errcode, 'M_LIMIT_EXCEEDED');
      }
    });

    it('a timed rotation happens once; under concurrent lookups against all three none fails; all answer the new pepper and accept the old', async () => {
      // The instances agree (a rotation may have just run while they started: then it is the next one).
      const first = await eventually('the instances agree on a pepper', 60_000, async () => {
        const peppers = await Promise.all(instances.map(pepperOf));
        return peppers.every((p) => p === peppers[0]) ? peppers[0] : undefined;
      });
      const loadStarted = Date.now();
      const rotatedLines = () => instances.flatMap((i) => i.lines.filter((line) => line.msg === 'pepper rotated' && line.time >= loadStarted).map((line) => `${i.name} at ${line.time}`));
      let failures: string[] = [];
      let lookups = 0;
      let done = false;
      // What clients do: hash_details on one instance, lookup on another (a load balancer), until every instance answers a new pepper.
      const client = async (k: number) => {
        for (let round = 0; !done; round++) {
          const [asked, answering] = [instances[(k + round) % 3], instances[(k + round + 1) % 3]];
          try {
            const pepper = await pepperOf(asked);
            const i = (k * 31 + round) % SOURCE_USERS;
            const mxid = await lookup(answering, pepper, `source${i}@example.org`);
            if (mxid !== `@source${i}:example.org`) failures.push(`source${i} on ${answering.name}: ${mxid}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
          lookups++;
        }
      };
      const load = Promise.all([0, 1, 2, 3].map(client));
      try {
        const second = await eventually('every instance answers a new pepper', (ROTATION_DELAY_S + 30) * 1000, async () => {
          const peppers = await Promise.all(instances.map(pepperOf));
          return peppers.every((p) => p !== first && p === peppers[0]) ? peppers[0] : undefined;
        });
        done = true;
        await load;
        assert.deepEqual(failures, [], `${failures.length} of ${lookups} lookups failed`);
        assert.ok(lookups > 20, `${lookups} lookups ran during the rotation`);
        assert.equal(rotatedLines().length, 1, `one instance rotated; the others adopted its pepper: ${rotatedLines().join(', ')}; ${JSON.stringify(instances.map((i) => i.lines.filter((l) => /rotat|lease|pepper/.test(l.msg)).map((l) => `${i.name} ${l.time} ${l.msg}`)))}`);
        for (const instance of instances) {
          assert.equal(await lookup(instance, second, 'carol@example.org'), '@carol:example.org', `${instance.name}, new pepper`);
          assert.equal(await lookup(instance, first, 'carol@example.org'), '@carol:example.org', `${instance.name}, the old pepper is an alternate`);
        }
      } finally {
        done = true;
        failures = [];
      }
    });

    it('SIGKILL of the rotation holder mid-rotation: another instance completes it, and nothing is lost', async () => {
      const before = await pepperOf(instances[0]);
      // The next timed rotation: whoever takes the lease logs it started, then builds for SLOW_SOURCE_MS.
      const started = await Promise.race(instances.map((instance) => instance.nextLine((line) => line.msg === 'pepper rotation started', (ROTATION_DELAY_S + 30) * 1000).then(() => instance)));
      await kill(started);
      const survivors = live();
      assert.equal(survivors.length, 2);
      // Bound while the rotation is incomplete: it must reach the new table too.
      await bind(survivors[0], 'erin@example.org', '@erin:example.org');
      const after = await eventually('the survivors complete the rotation', 30_000, async () => {
        const peppers = await Promise.all(survivors.map(pepperOf));
        return peppers.every((p) => p !== before && p === peppers[0]) ? peppers[0] : undefined;
      });
      const completed = survivors.flatMap((i) => i.lines.filter((line) => line.msg === 'pepper rotated' && line.time > Date.now() - 60_000));
      assert.ok(completed.length >= 1, 'a survivor logged the rotation');
      for (const instance of survivors) {
        assert.equal(await lookup(instance, after, 'erin@example.org'), '@erin:example.org', `${instance.name}: the bind made mid-rotation`);
        assert.equal(await lookup(instance, after, 'carol@example.org'), '@carol:example.org', `${instance.name}: an earlier bind`);
        assert.equal(await lookup(instance, after, 'source7@example.org'), '@source7:example.org', `${instance.name}: the hash source`);
        assert.equal(await lookup(instance, before, 'carol@example.org'), '@carol:example.org', `${instance.name}: the replaced pepper`);
      }
    });

    it('an onbind queued on an instance that is then SIGKILLed is delivered by another', async () => {
      instances.push(await spawnInstance('instance 4', configFile));
      const [queuer, ...others] = live();
      assert.ok(others.length >= 1);
      const mxid = `@frank:${hs.serverName}`;
      const now = Date.now();
      await store.invites.put({
        token: randomToken(), medium: 'email', address: 'frank@example.org', roomId: '!room:example.org', sender: '@alice:example.org',
        fields: {}, ephemeralPublicKey: randomToken(), createdAt: now, expiresAt: now + 3_600_000, deliveredAt: null,
      });
      hs.onbindStatus = 500; // the queuer's attempt fails: the notification stays queued
      await bind(queuer, 'frank@example.org', mxid);
      await eventually('the queuer tried once', 10_000, async () => (hs.requests.some((r) => r.path.startsWith('/_matrix/federation/v1/3pid/onbind')) ? true : undefined));
      await kill(queuer);
      hs.onbindStatus = 200;
      const delivered = await eventually('another instance delivers it', 30_000, async () => hs.onbinds[0]);
      assert.equal((delivered as { mxid: string }).mxid, mxid);
      assert.equal(hs.onbinds.length, 1, 'delivered once');
      await eventually('the queue forgets it once delivered', 10_000, async () => (await store.onbind.count() === 0 ? true : undefined));
    });
  });
}
