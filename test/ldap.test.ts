/**
 * The LDAP identity provider against a real OpenLDAP (Debian's slapd, started by
 * test/helpers/slapd.ts) holding test/fixtures/ldap/directory.ldif and 100k generated people.
 * UNISD_TEST_LDAP=1 says slapd is installed; without it the suite is one skipped test.
 * The config tests at the end need no server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { Client, FilterParser, type Filter } from 'ldapts';
import { loadConfig } from '../core/config/load.js';
import type { IdentityProvider, Mapping } from '../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../core/providers/provider.js';
import { deepMerge, testApp, testConfig } from './helpers/app.js';
import { freePort } from './helpers/net.js';
import { lookupByHash } from './helpers/hash-app.js';
import { SERVICE_DN, SERVICE_PASSWORD, startSlapd, writeBulkLdif, type Slapd } from './helpers/slapd.js';
import { BULK_CHUNK, toMxid } from '../plugins/ldap/provider.js';
import { ldapProvider } from '../plugins/ldap/index.js';
import { anyEqual, fromTemplate } from '../plugins/ldap/filters.js';

const enabled = process.env.UNISD_TEST_LDAP === '1';
const BULK_COUNT = 100_000;
const PEOPLE = ['ou=people,dc=example,dc=org', 'ou=staff,dc=example,dc=org'];

const alice = { medium: 'email', address: 'alice@example.com' };
const aliceMxid = '@alice:example.org';

/** A config whose ldap section points at `url` (ldap://host:port), plus `overrides` (YAML shape). */
function ldapOverrides(url: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { hostname, port } = new URL(url);
  return deepMerge({
    matrix: { domain: 'example.org' },
    ldap: {
      enabled: true,
      connection: { host: hostname, port: Number(port), bindDn: SERVICE_DN, bindPassword: SERVICE_PASSWORD, baseDNs: PEOPLE },
      attribute: { uid: { type: 'uid', value: 'uid' } },
    },
  }, overrides);
}

const never = new AbortController().signal;

/** A provider built from config (as the plugin does), closed after the test. */
function provider(t: { after: (fn: () => unknown) => void }, url: string, overrides: Record<string, unknown> = {}): IdentityProvider {
  const built = ldapProvider(testConfig(ldapOverrides(url, overrides)));
  t.after(() => built.close());
  return built;
}

/** A TCP server that accepts connections and never answers (an LDAP server hung). */
async function hangingServer(): Promise<{ url: string; sockets: Socket[]; closed: Array<Promise<unknown>>; server: Server }> {
  const sockets: Socket[] = [];
  const closed: Array<Promise<unknown>> = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    closed.push(once(socket, 'close'));
    socket.on('error', () => {});
    // Read and ignore requests (a socket nobody reads never sees the client's end).
    socket.resume();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `ldap://127.0.0.1:${(server.address() as { port: number }).port}`, sockets, closed, server };
}

/** Forwards connections to `target`; `cut()` closes every forwarded connection from the server side. */
async function proxy(target: string): Promise<{ url: string; cut: () => void; server: Server; connections: () => number }> {
  const { hostname, port } = new URL(target);
  const pairs: Socket[][] = [];
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const ldap = connect(Number(port), hostname);
    pairs.push([client, ldap]);
    for (const s of [client, ldap]) s.on('error', () => {});
    client.pipe(ldap).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ldap://127.0.0.1:${(server.address() as { port: number }).port}`,
    cut: () => { for (const pair of pairs.splice(0)) for (const s of pair) s.destroy(); },
    server,
    connections: () => connections,
  };
}

/** global.gc without --expose-gc on the command line (the test runner's). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('ldap provider against slapd', { skip: enabled ? false : 'skipped: set UNISD_TEST_LDAP=1 (Debian slapd and ldap-utils installed) to run the LDAP suite' }, () => {
  let slapd: Slapd;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unisd-ldap-test-'));
    await writeBulkLdif(join(dir, 'bulk.ldif'), BULK_COUNT);
    slapd = await startSlapd([join(dir, 'bulk.ldif')]);
  });

  after(async () => {
    await slapd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('single lookup: an address stored as Alice@Example.com is found as alice@example.com, +44 1632 960000 as 441632960000', async (t) => {
    const ldap = provider(t, slapd.url);
    assert.equal(await ldap.lookup(alice, never), aliceMxid);
    assert.equal(await ldap.lookup({ medium: 'msisdn', address: '441632960000' }, never), aliceMxid);
    assert.equal(await ldap.lookup({ medium: 'email', address: 'nobody@example.com' }, never), null);
  });

  test('single lookup: uid is lower-cased (uid Bob → @bob), a number stored without + is found, every mail value counts, the second base DN is searched', async (t) => {
    const ldap = provider(t, slapd.url);
    assert.equal(await ldap.lookup({ medium: 'msisdn', address: '441632960002' }, never), '@bob:example.org');
    assert.equal(await ldap.lookup({ medium: 'email', address: 'robert@example.org' }, never), '@bob:example.org');
    assert.equal(await ldap.lookup({ medium: 'email', address: 'carol@example.net' }, never), '@carol:example.org');
  });

  test('entries without a uid, or holding something that is not an address, answer nothing', async (t) => {
    const ldap = provider(t, slapd.url);
    assert.equal(await ldap.lookup({ medium: 'email', address: 'nouid@example.org' }, never), null);
    assert.equal(await ldap.lookup({ medium: 'email', address: 'not an address' }, never), null);
  });

  test('filter injection: *)(uid=* and friends find nothing, by attribute search or through an operator\'s query', async (t) => {
    const attempts = ['*)(uid=*', '*', 'alice@example.com)(|(mail=*', '\\2a', '*)(objectClass=*))(|(mail=*', 'alice@example.com\u0000', '*@example.com', '+44*'];
    for (const overrides of [{}, { ldap: { identity: { medium: { email: '(|(mail=%3pid)(cn=%3pid))' } } } }]) {
      const ldap = provider(t, slapd.url, overrides);
      for (const address of attempts) {
        assert.equal(await ldap.lookup({ medium: 'email', address }, never), null, address);
        assert.equal(await ldap.lookup({ medium: 'msisdn', address }, never), null, address);
      }
      assert.deepEqual(await ldap.bulkLookup(attempts.map((address) => ({ medium: 'email', address })), never), []);
    }
  });

  test('filter injection at the LDAP level: escaped values match literally, where the same text unescaped matches every entry', async (t) => {
    const client = new Client({ url: slapd.url });
    t.after(() => client.unbind());
    await client.bind(SERVICE_DN, SERVICE_PASSWORD);
    const count = async (filter: Filter) => (await client.search(PEOPLE[0], { scope: 'sub', filter })).searchEntries.length;
    const template = '(|(mail=%3pid)(cn=%3pid))';
    for (const attack of ['*)(uid=*', '*', 'x)(|(objectClass=*']) {
      assert.equal(await count(fromTemplate(template, '%3pid', attack)), 0, attack);
      assert.equal(await count(anyEqual(['mail', 'uid'], [attack])), 0, attack);
    }
    // The control: pasted in as text, the first attack would have matched everyone.
    assert.ok(await count(FilterParser.parseString(template.split('%3pid').join('*)(uid=*'))) > 3);
  });

  test('bulk lookup: found ones only, every medium, across base DNs', async (t) => {
    const ldap = provider(t, slapd.url);
    const found = await ldap.bulkLookup([
      alice, { medium: 'msisdn', address: '441632960000' }, { medium: 'email', address: 'carol@example.net' },
      { medium: 'email', address: 'robert@example.org' }, { medium: 'email', address: 'nobody@example.org' }, { medium: 'msisdn', address: '15555550100' },
    ], never);
    const sort = (list: Mapping[]) => [...list].sort((a, b) => `${a.medium}${a.address}`.localeCompare(`${b.medium}${b.address}`));
    assert.deepEqual(sort(found), sort([
      { ...alice, mxid: aliceMxid }, { medium: 'msisdn', address: '441632960000', mxid: aliceMxid },
      { medium: 'email', address: 'carol@example.net', mxid: '@carol:example.org' }, { medium: 'email', address: 'robert@example.org', mxid: '@bob:example.org' },
    ]));
  });

  test(`bulk lookup of more 3PIDs than one search carries (${BULK_CHUNK}) finds them all`, async (t) => {
    const ldap = provider(t, slapd.url, { ldap: { connection: { baseDNs: ['ou=bulk,dc=example,dc=org'] } } });
    const asked = Array.from({ length: 2 * BULK_CHUNK + 7 }, (_, i) => ({ medium: 'email', address: `user${i * 7}@bulk.example.org` }));
    const found = await ldap.bulkLookup(asked, never);
    assert.equal(found.length, asked.length);
    assert.deepEqual(new Set(found.map((m) => m.mxid)), new Set(asked.map((_, i) => `@user${i * 7}:example.org`)));
  });

  test('ldap.identity.filter narrows lookups (erin is excluded by it); the operator\'s query per medium replaces the attribute search', async (t) => {
    const erin = { medium: 'email', address: 'erin@example.org' };
    assert.equal(await provider(t, slapd.url).lookup(erin, never), '@erin:example.org');
    const filtered = provider(t, slapd.url, { ldap: { identity: { filter: '(!(description=matrix-disabled))' } } });
    assert.equal(await filtered.lookup(erin, never), null);
    assert.equal(await filtered.lookup(alice, never), aliceMxid);
    const globalFilter = provider(t, slapd.url, { ldap: { filter: '(!(description=matrix-disabled))' } });
    assert.equal(await globalFilter.lookup(erin, never), null);
    const byDescription = provider(t, slapd.url, { ldap: { identity: { medium: { email: '(description=%3pid)' } } } });
    assert.equal(await byDescription.lookup({ medium: 'email', address: 'wonderland@example.com' }, never), aliceMxid);
    assert.equal(await byDescription.lookup(alice, never), null);
  });

  test('Active Directory-shaped entry: sAMAccountName (ma1sd\'s default uid attribute) or userPrincipalName as uid, mail and otherMobile', async (t) => {
    const ad = { connection: { baseDNs: ['OU=Corp,DC=example,DC=org'] }, attribute: { uid: { type: 'uid', value: 'sAMAccountName' } } };
    const bySam = provider(t, slapd.url, { ldap: ad });
    assert.equal(await bySam.lookup({ medium: 'email', address: 'john.doe@corp.example.org' }, never), '@jdoe:example.org');
    assert.equal(await bySam.lookup({ medium: 'msisdn', address: '441632960001' }, never), '@jdoe:example.org');
    const byUpn = provider(t, slapd.url, { ldap: deepMerge(ad, { attribute: { uid: { value: 'userPrincipalName' } } }) });
    assert.equal(await byUpn.lookup({ medium: 'email', address: 'john.doe@corp.example.org' }, never), '@jdoe:example.org');
  });

  test('uid type mxid: the attribute holds a whole Matrix ID (lower-cased)', async (t) => {
    const ldap = provider(t, slapd.url, { ldap: { attribute: { uid: { type: 'mxid', value: 'displayName' } } } });
    assert.equal(await ldap.lookup({ medium: 'email', address: 'carol@example.net' }, never), '@carol.c:example.net');
    // alice's entry has no displayName: not an answer.
    assert.equal(await ldap.lookup(alice, never), null);
  });

  test(`hash source: ${BULK_COUNT} entries stream in batches of at most ${MAPPING_BATCH_SIZE}, heap growth far below holding them`, async (t) => {
    const ldap = provider(t, slapd.url, { ldap: { lookup: true, connection: { baseDNs: ['ou=bulk,dc=example,dc=org'] } } });
    assert.equal(ldap.capabilities.hashSource, true);
    const gc = collector();
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let batches = 0;
    let sample: Mapping | undefined;
    for await (const batch of ldap.mappings!(never)) {
      assert.ok(batch.length > 0 && batch.length <= MAPPING_BATCH_SIZE, `batch of ${batch.length}`);
      count += batch.length;
      sample ??= batch.find((m) => m.address === 'user12345@bulk.example.org');
      if (++batches % 10 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - base);
      }
    }
    assert.equal(count, BULK_COUNT);
    assert.deepEqual(sample, { medium: 'email', address: 'user12345@bulk.example.org', mxid: '@user12345:example.org' });

    // What holding every mapping costs, for comparison.
    const held: Mapping[] = [];
    for await (const batch of ldap.mappings!(never)) held.push(...batch);
    gc();
    const holding = process.memoryUsage().heapUsed - base;
    assert.equal(held.length, BULK_COUNT);
    assert.ok(peak < holding / 4, `streaming grew the heap by ${peak} bytes; holding all mappings costs ${holding}`);
  });

  test('hash source: addresses normalised, entries with no uid or no valid address skipped and counted', async (t) => {
    const ldap = provider(t, slapd.url, { ldap: { lookup: true } }) as IdentityProvider & { skipped: number };
    const all: Mapping[] = [];
    for await (const batch of ldap.mappings!(never)) all.push(...batch);
    const of = (mxid: string) => all.filter((m) => m.mxid === mxid).map((m) => `${m.medium}:${m.address}`).sort();
    assert.deepEqual(of(aliceMxid), ['email:alice@example.com', 'msisdn:441632960000']);
    assert.deepEqual(of('@bob:example.org'), ['email:bob@example.org', 'email:robert@example.org', 'msisdn:441632960002']);
    assert.deepEqual(of('@dave:example.org'), []);
    assert.ok(!all.some((m) => m.address === 'nouid@example.org'));
    assert.ok(ldap.skipped >= 3, `skipped ${ldap.skipped}`);
  });

  test('hash source: ldap.identity.lookup (the key ma1sd\'s code reads) enables it too; neither leaves it off', async (t) => {
    assert.equal(provider(t, slapd.url, { ldap: { identity: { lookup: true } } }).capabilities.hashSource, true);
    assert.equal(provider(t, slapd.url).capabilities.hashSource, false);
  });

  test('hash source: aborting mid-stream stops it with the signal\'s reason and frees its connection', async (t) => {
    const ldap = provider(t, slapd.url, { ldap: { lookup: true, connection: { poolSize: 1, baseDNs: ['ou=bulk,dc=example,dc=org'] } } });
    const controller = new AbortController();
    const reason = new Error('deadline');
    let batches = 0;
    await assert.rejects(async () => {
      for await (const _ of ldap.mappings!(controller.signal)) {
        if (++batches === 2) controller.abort(reason);
      }
    }, (err) => err === reason);
    // With a pool of one, a lookup works only if the stream gave its connection back.
    assert.equal(await ldap.lookup({ medium: 'email', address: 'user5@bulk.example.org' }, never), '@user5:example.org');
  });

  test('STARTTLS and ldaps:// with the server\'s CA; without the CA the certificate is refused', async (t) => {
    const startTls = provider(t, slapd.url, { ldap: { connection: { startTls: true, ca: slapd.caFile } } });
    assert.equal(await startTls.lookup(alice, never), aliceMxid);
    const ldaps = provider(t, slapd.url, { ldap: { connection: { host: '', servers: [slapd.ldapsUrl], ca: slapd.caFile } } });
    assert.equal(await ldaps.lookup(alice, never), aliceMxid);
    const untrusted = provider(t, slapd.url, { ldap: { connection: { host: '', servers: [slapd.ldapsUrl] } } });
    await assert.rejects(untrusted.lookup(alice, never), /self[- ]signed/);
  });

  test('a wrong bind password fails the lookup (the registry counts it) rather than searching anonymously', async (t) => {
    const ldap = provider(t, slapd.url, { ldap: { connection: { bindPassword: 'wrong' } } });
    await assert.rejects(ldap.lookup(alice, never), (err) => (err as Error).constructor.name === 'InvalidCredentialsError');
  });

  test('failover: the first server refusing connections, or accepting and never answering, the next one answers', async (t) => {
    const down = `ldap://127.0.0.1:${await freePort()}`;
    const refused = provider(t, down, { ldap: { connection: { servers: [slapd.url] } } });
    assert.equal(await refused.lookup(alice, never), aliceMxid);

    const hanging = await hangingServer();
    t.after(() => { for (const s of hanging.sockets) s.destroy(); hanging.server.close(); });
    const hung = provider(t, hanging.url, { ldap: { connection: { servers: [slapd.url], timeout: '300ms' } } });
    assert.equal(await hung.lookup(alice, never), aliceMxid);
    // The hung server is now known to be down: the next lookup goes straight to the second one.
    const before = hanging.sockets.length;
    assert.equal(await hung.lookup({ medium: 'email', address: 'carol@example.net' }, never), '@carol:example.org');
    assert.equal(hanging.sockets.length, before);
  });

  test('connections are reused, and replaced when the server closed them while idle', async (t) => {
    const relay = await proxy(slapd.url);
    t.after(() => { relay.cut(); relay.server.close(); });
    const ldap = provider(t, relay.url, { ldap: { connection: { poolSize: 2 } } });
    for (let i = 0; i < 5; i++) assert.equal(await ldap.lookup(alice, never), aliceMxid);
    assert.equal(relay.connections(), 1, 'sequential lookups share one connection');
    await Promise.all(Array.from({ length: 10 }, () => ldap.lookup(alice, never).then((mxid) => assert.equal(mxid, aliceMxid))));
    assert.ok(relay.connections() <= 2, `at most poolSize connections at once, opened ${relay.connections()}`);
    relay.cut();
    assert.equal(await ldap.lookup(alice, never), aliceMxid);
  });

  test('a sha256 hash lookup through the running app finds the directory\'s 3PIDs by their normalised hashes (Alice@Example.com as alice@example.com)', async (t) => {
    const found = await lookupByHash(t, ldapOverrides(slapd.url, { ldap: { lookup: true } }), [
      alice, { medium: 'msisdn', address: '441632960000' }, { medium: 'email', address: 'carol@example.net' },
      // The directory's own spelling is not what a client hashes; an unknown address finds nothing.
      { medium: 'email', address: 'Alice@Example.com' }, { medium: 'email', address: 'nobody@example.com' },
    ]);
    assert.deepEqual(found, { 'alice@example.com email': aliceMxid, '441632960000 msisdn': aliceMxid, 'carol@example.net email': '@carol:example.org' });
  });

  describe('through the app: a v1 lookup answers with what the other providers found', () => {
    const memory = { memory: { enabled: true, identities: [{ username: 'zoe', threepids: [{ medium: 'email', address: 'zoe@example.org' }] }] } };
    const bulk = (app: FastifyInstance) => app.inject({
      method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup',
      payload: { threepids: [['email', 'zoe@example.org'], ['email', 'Alice@Example.com']] },
    });

    test('LDAP up: both answer, Alice@Example.com as the client wrote it', async (t) => {
      const app = await testApp(deepMerge(ldapOverrides(slapd.url), memory));
      t.after(() => app.close());
      const res = await bulk(app);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().threepids, [['email', 'zoe@example.org', '@zoe:example.org'], ['email', 'Alice@Example.com', aliceMxid]]);
      const single = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=msisdn&address=441632960000' });
      assert.equal(single.json().mxid, aliceMxid);
    });

    test('LDAP down (connection refused): 200 with the memory provider\'s answer, the failure counted', async (t) => {
      const app = await testApp(deepMerge(ldapOverrides(`ldap://127.0.0.1:${await freePort()}`), memory));
      t.after(() => app.close());
      const res = await bulk(app);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().threepids, [['email', 'zoe@example.org', '@zoe:example.org']]);
      assert.equal(app.providers.failures.get('ldap')?.error, 1);
    });

    test('LDAP hanging: 200 at providers.timeout with the memory provider\'s answer, the hung connection closed', async (t) => {
      const hanging = await hangingServer();
      t.after(() => { for (const s of hanging.sockets) s.destroy(); hanging.server.close(); });
      const app = await testApp(deepMerge(ldapOverrides(hanging.url, { providers: { timeout: '300ms' }, ldap: { connection: { timeout: '1m' } } }), memory));
      t.after(() => app.close());
      const res = await bulk(app);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().threepids, [['email', 'zoe@example.org', '@zoe:example.org']]);
      assert.equal(app.providers.failures.get('ldap')?.timeout, 1);
      // The abandoned connection is closed, not left hanging: the server sees it end.
      assert.equal(hanging.closed.length, 1);
      await hanging.closed[0];
    });
  });
});

describe('ldap config', () => {
  test('an ma1sd ldap section loads unchanged (baseDn singular, identity.lookup, auth/directory/profile keys)', () => {
    const config = loadConfig({
      env: {},
      overrides: {
        ldap: {
          enabled: true, filter: '(memberOf=CN=Matrix Users,OU=Groups,DC=example,DC=org)',
          connection: { host: 'ldap.example.org', port: 636, tls: true, bindDn: 'CN=My User,OU=Users,DC=example,DC=org', bindPassword: 'TheUserPassword', baseDn: 'OU=Legacy,DC=example,DC=org', baseDNs: ['OU=Users,DC=example,DC=org'] },
          attribute: { uid: { type: 'uid', value: 'sAMAccountName' }, name: 'cn', threepid: { email: ['mail', 'otherMailAttribute'], msisdn: ['phone', 'otherPhoneAttribute'] } },
          identity: { filter: '(objectClass=person)', medium: { email: '(|(mail=%3pid)(otherMailAttribute=%3pid))' }, lookup: true },
          auth: { filter: '(objectClass=person)' }, directory: { filter: '', attribute: { other: ['memberOf'] } }, profile: { filter: '' },
        },
      },
    });
    assert.equal(config.ldap.identity.lookup, true);
    assert.deepEqual(config.ldap.attribute.threepid.msisdn, ['phone', 'otherPhoneAttribute']);
  });

  test('the README\'s example configs (OpenLDAP, FreeIPA, Active Directory) load', async () => {
    const readme = await readFile(join(import.meta.dirname, '../plugins/ldap/README.md'), 'utf8');
    const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.equal(examples.length, 3);
    for (const example of examples) {
      const config = loadConfig({ env: {}, overrides: deepMerge({ matrix: { domain: 'example.org' } }, parse(example)) });
      assert.equal(config.ldap.enabled, true);
      assert.ok(config.ldap.connection.baseDNs.length > 0);
    }
  });

  test('a bad filter, query or server URL stops the start with one line naming the key', () => {
    const error = (ldap: Record<string, unknown>) => {
      try {
        loadConfig({ env: {}, overrides: { ldap } });
      } catch (err) {
        return (err as Error).message;
      }
      return assert.fail('expected a config error');
    };
    assert.match(error({ filter: '(uid=alice' }), /^config error in overrides: ldap\.filter: expected an LDAP filter/);
    assert.match(error({ identity: { medium: { email: 'mail=%3pid)' } } }), /^config error in overrides: ldap\.identity\.medium\.email: expected an LDAP filter/);
    assert.match(error({ identity: { medium: { fax: '(fax=%3pid)' } } }), /^config error in overrides: ldap\.identity\.medium\.fax: unknown key, expected email or msisdn/);
    assert.match(error({ connection: { poolSize: 0 } }), /^config error in overrides: ldap\.connection\.poolSize: expected a whole number, 1 or more/);
    assert.match(error({ connection: { servers: ['https://ldap.example.org'] } }), /^config error in overrides: ldap\.connection\.servers\[0\]: expected an LDAP URL/);
  });

  test('the provider refuses a config it cannot serve: no server, no base DN, uid type uid without matrix.domain', () => {
    const base = { enabled: true, connection: { host: 'ldap.example.org', baseDNs: ['dc=example,dc=org'] } };
    const build = (overrides: Record<string, unknown>) => () => ldapProvider(testConfig(deepMerge({ matrix: { domain: 'example.org' }, ldap: base }, overrides)));
    assert.throws(build({ ldap: { connection: { host: '' } } }), /^Error: config error: ldap\.connection\.host: /);
    assert.throws(build({ ldap: { connection: { baseDNs: [] } } }), /^Error: config error: ldap\.connection\.baseDNs: /);
    assert.throws(build({ matrix: { domain: '' } }), /^Error: config error: matrix\.domain: /);
    assert.throws(build({ ldap: { connection: { ca: '/nonexistent/ca.pem' } } }), /^Error: config error: ldap\.connection\.ca: cannot read/);
  });

  test('uid values become Matrix IDs or nothing', () => {
    assert.equal(toMxid('JDoe', 'uid', 'example.org'), '@jdoe:example.org');
    assert.equal(toMxid('jdoe@corp.example.org', 'uid', 'example.org'), '@jdoe:example.org');
    assert.equal(toMxid('john doe', 'uid', 'example.org'), null);
    assert.equal(toMxid('a:b', 'uid', 'example.org'), null);
    assert.equal(toMxid('@Carol:Example.net', 'mxid', 'example.org'), '@carol:example.net');
    assert.equal(toMxid('carol', 'mxid', 'example.org'), null);
    assert.equal(toMxid('@carol:exa mple.net', 'mxid', 'example.org'), null);
  });
});
