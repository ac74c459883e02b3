import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { testApp } from './helpers/app.js';
import { federationConfig, startFakeHomeserver, type FakeHomeserver } from './helpers/fake-homeserver.js';
import { parseServerName, userIdServerName } from '../core/federation/server-name.js';
import { AddressGuard } from '../core/federation/address-guard.js';
import { pickSrvTarget, type DnsResolver, type SrvTarget } from '../core/federation/dns.js';
import { FederationClient, type FederationOptions } from '../core/federation/client.js';
import { FederationError } from '../core/federation/types.js';
import { parseXMatrix } from '../core/federation/x-matrix.js';
import { OutboundGate } from '../core/federation/outbound-gate.js';
import { AdmissionCache } from '../core/federation/cache.js';
import { MatrixError } from '../core/errors.js';
import { generateSigningKey, signJson } from '../core/crypto/signing.js';

const HOUR = 3_600_000;

// ---------------------------------------------------------------- server names

test('server names follow the appendix grammar', () => {
  assert.deepEqual(parseServerName('matrix.org'), { host: 'matrix.org', ipVersion: 0, port: null });
  assert.deepEqual(parseServerName('matrix.org:8888'), { host: 'matrix.org', ipVersion: 0, port: 8888 });
  assert.deepEqual(parseServerName('1.2.3.4'), { host: '1.2.3.4', ipVersion: 4, port: null });
  assert.deepEqual(parseServerName('1.2.3.4:1234'), { host: '1.2.3.4', ipVersion: 4, port: 1234 });
  assert.deepEqual(parseServerName('[1234:5678::abcd]'), { host: '1234:5678::abcd', ipVersion: 6, port: null });
  assert.deepEqual(parseServerName('[1234:5678::abcd]:5678'), { host: '1234:5678::abcd', ipVersion: 6, port: 5678 });
  assert.deepEqual(parseServerName('[::ffff:1.2.3.4]'), { host: '::ffff:1.2.3.4', ipVersion: 6, port: null });
  for (const bad of ['', 'matrix.org:', 'matrix.org:0', 'matrix.org:65536', 'matrix.org:123456', 'exa mple.org', 'ex_ample.org', 'example.org/path',
    '1234:5678::abcd', '[1234:5678::abcd', '[zz::1]', '[1.2.3.4]', '256.1.1.1', '1.2.3.4:x', 'a'.repeat(256), 'user@example.org']) {
    assert.equal(parseServerName(bad), null, bad);
  }
});

test('user ids name their server; localparts may be historical', () => {
  assert.equal(userIdServerName('@alice:example.org'), 'example.org');
  assert.equal(userIdServerName('@alice:example.org:8448'), 'example.org:8448');
  assert.equal(userIdServerName('@Alice!:[::1]:8448'), '[::1]:8448');
  for (const bad of [undefined, 42, 'alice:example.org', '@:example.org', '@alice', '@alice:', '@alice:bad name', `@${'a'.repeat(250)}:example.org`]) {
    assert.equal(userIdServerName(bad), null, String(bad));
  }
});

// ---------------------------------------------------------------- SSRF guard

test('the address guard refuses private, loopback, link-local, unique-local, multicast, unspecified and CGNAT addresses', () => {
  const guard = new AddressGuard();
  for (const refused of ['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '::', '::1', 'fe80::1', 'fd00::1', 'fc00::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', 'not an ip']) {
    assert.equal(guard.permits(refused), false, refused);
  }
  for (const permitted of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) {
    assert.equal(guard.permits(permitted), true, permitted);
  }
});

test('the address guard judges IPv6 addresses that carry an IPv4 address (NAT64, 6to4, IPv4-compatible, SIIT) by that address', () => {
  const guard = new AddressGuard();
  for (const refused of ['64:ff9b::10.0.0.1', '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '64:ff9b::c0a8:101', '2002:7f00:1::1', '2002:a00:1::', '2002:a9fe:a9fe:1:2:3:4:5',
    '::127.0.0.1', '::10.0.0.1', '::ffff:0:7f00:1', '::ffff:0:10.0.0.1',
    '64:ff9b:1::808:808', // local-use NAT64 (RFC 8215): a site's own translator
    '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo: carries an obfuscated IPv4
  ]) {
    assert.equal(guard.permits(refused), false, refused);
  }
  for (const permitted of ['64:ff9b::8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2001:4860:4860::8888', '2a01:4f8::1']) {
    assert.equal(guard.permits(permitted), true, permitted);
  }
  // An allowed IPv4 address stays allowed behind a translator.
  assert.equal(new AddressGuard(['127.0.0.1']).permits('64:ff9b::7f00:1'), true);
});

test('federation.allowedAddresses exempts addresses and ranges; malformed entries are rejected', () => {
  const guard = new AddressGuard(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  assert.equal(guard.permits('127.0.0.1'), true);
  assert.equal(guard.permits('::ffff:127.0.0.1'), true);
  assert.equal(guard.permits('127.0.0.2'), false);
  assert.equal(guard.permits('10.200.0.1'), true);
  assert.equal(guard.permits('fd12::1'), true);
  assert.equal(guard.permits('192.168.0.1'), false);
  for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', '']) {
    assert.throws(() => new AddressGuard([bad]), /allowedAddresses/, bad);
  }
});

// ---------------------------------------------------------------- SRV selection

test('SRV targets: lowest priority, then weighted; "." means no service', () => {
  const records: SrvTarget[] = [
    { name: 'backup.example.org', port: 1, priority: 20, weight: 100 },
    { name: 'a.example.org.', port: 2, priority: 10, weight: 1 },
    { name: 'b.example.org', port: 3, priority: 10, weight: 3 },
  ];
  assert.deepEqual(pickSrvTarget(records, () => 0), { name: 'a.example.org', port: 2, priority: 10, weight: 1 });
  assert.equal(pickSrvTarget(records, () => 0.5)?.name, 'b.example.org');
  assert.equal(pickSrvTarget(records, () => 0.99)?.name, 'b.example.org');
  assert.equal(pickSrvTarget([]), null);
  assert.equal(pickSrvTarget([{ name: '.', port: 0, priority: 0, weight: 0 }]), null);
});

// ---------------------------------------------------------------- resolution

/** DNS answers for tests; records the names asked. */
class StubDns implements DnsResolver {
  readonly asked: string[] = [];
  constructor(private readonly hosts: Record<string, string[]> = {}, private readonly srv: Record<string, SrvTarget[]> = {}) {}
  async resolveSrv(name: string) {
    this.asked.push(`SRV ${name}`);
    return this.srv[name] ?? [];
  }
  async lookup(hostname: string) {
    this.asked.push(`A ${hostname}`);
    return this.hosts[hostname] ?? [];
  }
}

const srv = (name: string, port: number): SrvTarget[] => [{ name, port, priority: 0, weight: 0 }];

/** No limits on callers' requests, unless a test sets them. */
const noCallerLimits = { rateLimit: { perClient: 0, window: HOUR }, maxConcurrent: 0, maxQueued: 0 };

async function resolution(t: TestContext, dns: StubDns, options: Partial<FederationOptions> = {}): Promise<{ hs: FakeHomeserver; client: FederationClient }> {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const client = new FederationClient({
    timeout: 5000, maxResponseBytes: 65536, cacheTtl: 24 * HOUR, ...noCallerLimits, ...federationConfig, dns, wellKnownPort: hs.port, ...options,
  });
  t.after(() => client.close());
  return { hs, client };
}

const wellKnownPath = '/.well-known/matrix/server';

test('IP literals and explicit ports are used directly, without DNS or well-known', async (t) => {
  const dns = new StubDns();
  const { hs, client } = await resolution(t, dns);
  assert.deepEqual(await client.resolver.resolve('1.2.3.4'), { host: '1.2.3.4', port: 8448, hostHeader: '1.2.3.4' });
  assert.deepEqual(await client.resolver.resolve('1.2.3.4:8000'), { host: '1.2.3.4', port: 8000, hostHeader: '1.2.3.4:8000' });
  assert.deepEqual(await client.resolver.resolve('[2001:db8::1]:8000'), { host: '2001:db8::1', port: 8000, hostHeader: '[2001:db8::1]:8000' });
  assert.deepEqual(await client.resolver.resolve('example.test:1234'), { host: 'example.test', port: 1234, hostHeader: 'example.test:1234' });
  assert.deepEqual(dns.asked, []);
  assert.equal(hs.requests.length, 0);
  await assert.rejects(client.resolver.resolve('bad name'), (err: FederationError) => err.reason === 'invalid-server-name');
});

test('well-known delegation with a port: the delegated host and port, Host header delegated', async (t) => {
  const dns = new StubDns({ 'example.test': ['127.0.0.1'] });
  const { hs, client } = await resolution(t, dns);
  hs.override(wellKnownPath, { body: { 'm.server': 'delegated.test:4321' } });
  assert.deepEqual(await client.resolver.resolve('example.test'), { host: 'delegated.test', port: 4321, hostHeader: 'delegated.test:4321' });
  // The well-known was asked of the server name itself, with its name as Host and SNI.
  assert.deepEqual(hs.requests, [{ method: 'GET', path: wellKnownPath, host: 'example.test', servername: 'example.test' }]);
  assert.deepEqual(dns.asked, ['A example.test']);
});

test('well-known delegation to an IP literal', async (t) => {
  const { hs, client } = await resolution(t, new StubDns({ 'example.test': ['127.0.0.1'] }));
  hs.override(wellKnownPath, { body: { 'm.server': '[2001:db8::2]' } });
  assert.deepEqual(await client.resolver.resolve('example.test'), { host: '2001:db8::2', port: 8448, hostHeader: '[2001:db8::2]' });
});

test('well-known delegation without a port: SRV _matrix-fed._tcp, then _matrix._tcp, then 8448 of the delegated host', async (t) => {
  const cases: Array<[Record<string, SrvTarget[]>, { host: string; port: number }]> = [
    [{ '_matrix-fed._tcp.delegated.test': srv('fed.delegated.test', 8449), '_matrix._tcp.delegated.test': srv('legacy.delegated.test', 8450) }, { host: 'fed.delegated.test', port: 8449 }],
    [{ '_matrix._tcp.delegated.test': srv('legacy.delegated.test', 8450) }, { host: 'legacy.delegated.test', port: 8450 }],
    [{}, { host: 'delegated.test', port: 8448 }],
  ];
  for (const [records, expected] of cases) {
    const { hs, client } = await resolution(t, new StubDns({ 'example.test': ['127.0.0.1'] }, records));
    hs.override(wellKnownPath, { body: { 'm.server': 'delegated.test' } });
    assert.deepEqual(await client.resolver.resolve('example.test'), { ...expected, hostHeader: 'delegated.test' });
  }
});

test('no usable well-known: SRV of the server name itself, then 8448; Host stays the server name', async (t) => {
  const noWellKnown = [undefined, { status: 404, body: { errcode: 'M_NOT_FOUND' } }, { body: 'not json' }, { body: { 'm.server': 'bad name' } }, { body: { other: 1 } }];
  for (const wellKnown of noWellKnown) {
    const dns = new StubDns({ 'example.test': ['127.0.0.1'] }, { '_matrix-fed._tcp.example.test': srv('fed.example.test', 8449) });
    const { hs, client } = await resolution(t, dns);
    if (wellKnown) hs.override(wellKnownPath, wellKnown);
    assert.deepEqual(await client.resolver.resolve('example.test'), { host: 'fed.example.test', port: 8449, hostHeader: 'example.test' }, JSON.stringify(wellKnown));
  }
  const legacy = await resolution(t, new StubDns({ 'example.test': ['127.0.0.1'] }, { '_matrix._tcp.example.test': srv('legacy.example.test', 8450) }));
  assert.deepEqual(await legacy.client.resolver.resolve('example.test'), { host: 'legacy.example.test', port: 8450, hostHeader: 'example.test' });
  // An unresolvable name: the well-known fetch fails, no SRV: port 8448.
  const dns = new StubDns();
  const fallback = await resolution(t, dns);
  assert.deepEqual(await fallback.client.resolver.resolve('nowhere.test'), { host: 'nowhere.test', port: 8448, hostHeader: 'nowhere.test' });
  assert.deepEqual(dns.asked, ['A nowhere.test', 'SRV _matrix-fed._tcp.nowhere.test', 'SRV _matrix._tcp.nowhere.test']);
});

test('well-known redirects are followed, loops and plain http are not', async (t) => {
  const { hs, client } = await resolution(t, new StubDns({ 'example.test': ['127.0.0.1'], 'moved.test': ['127.0.0.1'] }));
  hs.override(wellKnownPath, { status: 301, headers: { location: `https://moved.test:${hs.port}/elsewhere` } });
  hs.override('/elsewhere', { status: 302, headers: { location: '/final?x=1' } });
  hs.override('/final', { body: { 'm.server': 'delegated.test:4321' } });
  assert.deepEqual(await client.resolver.resolve('example.test'), { host: 'delegated.test', port: 4321, hostHeader: 'delegated.test:4321' });
  assert.deepEqual(hs.requests.map((r) => [r.path, r.host, r.servername]), [
    [wellKnownPath, 'example.test', 'example.test'],
    ['/elsewhere', `moved.test:${hs.port}`, 'moved.test'],
    ['/final?x=1', `moved.test:${hs.port}`, 'moved.test'],
  ]);

  const loop = await resolution(t, new StubDns({ 'loop.test': ['127.0.0.1'] }));
  loop.hs.override(wellKnownPath, { status: 302, headers: { location: '/again' } });
  loop.hs.override('/again', { status: 302, headers: { location: wellKnownPath } });
  assert.deepEqual(await loop.client.resolver.resolve('loop.test'), { host: 'loop.test', port: 8448, hostHeader: 'loop.test' });
  assert.equal(loop.hs.requests.length, 2);

  const http = await resolution(t, new StubDns({ 'plain.test': ['127.0.0.1'] }));
  http.hs.override(wellKnownPath, { status: 302, headers: { location: `http://127.0.0.1:${http.hs.port}/x` } });
  assert.deepEqual(await http.client.resolver.resolve('plain.test'), { host: 'plain.test', port: 8448, hostHeader: 'plain.test' });
  assert.equal(http.hs.requests.length, 1);
});

test('concurrent resolutions of one uncached name share one well-known fetch', async (t) => {
  const dns = new StubDns({ 'busy.test': ['127.0.0.1'] });
  const { hs, client } = await resolution(t, dns);
  hs.override(wellKnownPath, { body: { 'm.server': 'delegated.test:4321' } });
  const answers = await Promise.all(Array.from({ length: 5 }, () => client.resolver.resolve('busy.test')));
  for (const answer of answers) assert.deepEqual(answer, { host: 'delegated.test', port: 4321, hostHeader: 'delegated.test:4321' });
  assert.equal(hs.requests.filter((r) => r.path === wellKnownPath).length, 1);
});

test('resolutions are cached per Cache-Control, else cacheTtl, at most 48h; errors for an hour', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const cases: Array<[string, Record<string, unknown> | undefined, number, number]> = [
    // [name, well-known answer, still cached after (ms), refetched after (ms) more]
    ['max-age', { body: { 'm.server': 'd.test:1' }, headers: { 'cache-control': 'public, max-age=60' } }, 59_000, 2_000],
    ['default', { body: { 'm.server': 'd.test:1' } }, 23 * HOUR, 2 * HOUR],
    ['capped', { body: { 'm.server': 'd.test:1' }, headers: { 'cache-control': 'max-age=31536000' } }, 47 * HOUR, 2 * HOUR],
    ['error', { status: 500, body: {} }, 59 * 60_000, 2 * 60_000],
  ];
  for (const [label, answer, cachedFor, thenRefetchedAfter] of cases) {
    const { hs, client } = await resolution(t, new StubDns({ 'example.test': ['127.0.0.1'] }));
    hs.override(wellKnownPath, answer!);
    await client.resolver.resolve('example.test');
    mock.timers.tick(cachedFor);
    await client.resolver.resolve('example.test');
    assert.equal(hs.requests.length, 1, `${label}: cached`);
    mock.timers.tick(thenRefetchedAfter);
    await client.resolver.resolve('example.test');
    assert.equal(hs.requests.length, 2, `${label}: refetched`);
  }
  const { hs, client } = await resolution(t, new StubDns({ 'example.test': ['127.0.0.1'] }));
  hs.override(wellKnownPath, { body: { 'm.server': 'd.test:1' }, headers: { 'cache-control': 'no-store' } });
  await client.resolver.resolve('example.test');
  await client.resolver.resolve('example.test');
  assert.equal(hs.requests.length, 2, 'no-store: not cached');
});

test('the admission cache: names on probation push out only each other; a vouched-for name stays while in use', () => {
  const cache = new AdmissionCache<number>(20); // 20 vouched for, 2 on probation
  cache.propose('real.example', 1);
  cache.vouch('real.example');
  for (let i = 0; i < 1000; i++) cache.propose(`made-up-${i}.example`, i);
  assert.equal(cache.get('real.example'), 1);
  assert.equal(cache.get('made-up-999.example'), 999);
  assert.equal(cache.get('made-up-997.example'), undefined, 'probation holds a tenth of the size');
  // Vouched-for names beyond the size push out the least recently used one, not one in use.
  for (let i = 0; i < 19; i++) cache.admit(`other-${i}.example`, i);
  cache.get('real.example');
  cache.admit('one-more.example', 0);
  assert.equal(cache.get('real.example'), 1);
  assert.equal(cache.get('other-0.example'), undefined);
  cache.propose('real.example', 2);
  assert.equal(cache.get('real.example'), 2, 'a new value for a vouched-for name keeps it in the main area');
});

test('resolutions of names made up by callers never push a homeserver that answered out of the cache', async (t) => {
  const names = Object.fromEntries(['real.test', ...Array.from({ length: 30 }, (_, i) => `made-up-${i}.test`)].map((name) => [name, ['127.0.0.1']]));
  const { hs, client } = await resolution(t, new StubDns(names), { cacheSize: 10 });
  hs.override(wellKnownPath, { body: { 'm.server': `127.0.0.1:${hs.port}` } });
  hs.addOpenIdToken('tok', '@alice:real.test');
  const userinfo = { method: 'GET' as const, path: '/_matrix/federation/v1/openid/userinfo?access_token=tok' };
  assert.equal((await client.request('real.test', userinfo)).status, 200);
  for (let i = 0; i < 30; i++) await client.resolver.resolve(`made-up-${i}.test`);
  const wellKnownOf = (host: string) => hs.requests.filter((r) => r.path === wellKnownPath && r.host === host).length;
  assert.equal((await client.request('real.test', userinfo)).status, 200);
  assert.equal(wellKnownOf('real.test'), 1, 'still cached after 30 made-up names, three times the cache size');
  await client.resolver.resolve('made-up-0.test');
  assert.equal(wellKnownOf('made-up-0.test'), 2, 'made-up names push out each other');
});

// ---------------------------------------------------------------- requests

test('requests reach a delegated homeserver by name, with Host and SNI of the delegated name', async (t) => {
  const dns = new StubDns({ 'example.test': ['127.0.0.1'], 'localhost': ['127.0.0.1'] });
  const { hs, client } = await resolution(t, dns);
  hs.override(wellKnownPath, { body: { 'm.server': `localhost:${hs.port}` } });
  hs.addOpenIdToken('tok', '@alice:example.test');
  const response = await client.request('example.test', { method: 'GET', path: '/_matrix/federation/v1/openid/userinfo?access_token=tok' });
  assert.deepEqual(response, { status: 200, json: { sub: '@alice:example.test' } });
  assert.deepEqual(hs.requests[1], { method: 'GET', path: '/_matrix/federation/v1/openid/userinfo?access_token=tok', host: `localhost:${hs.port}`, servername: 'localhost' });
});

test('POST bodies are sent as JSON; non-JSON answers come back as null', async (t) => {
  const { hs, client } = await resolution(t, new StubDns());
  const sent = await client.request(hs.serverName, { method: 'POST', path: '/_matrix/federation/v1/3pid/onbind', body: { invites: [{ mxid: '@a:b' }] } });
  assert.equal(sent.status, 200);
  assert.deepEqual(hs.onbinds, [{ invites: [{ mxid: '@a:b' }] }]);
  hs.override('/text', { body: 'plain text' });
  assert.deepEqual(await client.request(hs.serverName, { method: 'GET', path: '/text' }), { status: 200, json: null });
});

test('the SSRF guard applies to names that resolve to refused addresses, and to IPv4-mapped literals', async (t) => {
  const dns = new StubDns({ 'internal.test': ['10.0.0.7', '127.0.0.1'], 'nat64.test': ['64:ff9b::7f00:1', '2002:7f00:1::1'] });
  const { hs, client } = await resolution(t, dns, { allowedAddresses: [] });
  for (const name of ['internal.test:1', 'nat64.test:1', hs.serverName, `[::ffff:127.0.0.1]:${hs.port}`, `[64:ff9b::127.0.0.1]:${hs.port}`]) {
    await assert.rejects(client.request(name, { method: 'GET', path: '/_matrix/key/v2/server' }), (err: FederationError) => {
      assert.equal(err.reason, 'forbidden-address', name);
      return true;
    });
  }
  assert.equal(hs.requests.length, 0);
});

test('a name with a refused and an allowed address is reached on the allowed one only', async (t) => {
  const dns = new StubDns({ 'mixed.test': ['10.0.0.7', '127.0.0.1'] });
  const { hs, client } = await resolution(t, dns);
  const response = await client.request(`mixed.test:${hs.port}`, { method: 'GET', path: '/_matrix/key/v2/server' });
  assert.equal(response.status, 200);
  assert.equal(hs.requests[0].servername, 'mixed.test');
});

test('responses larger than maxResponseBytes fail', async (t) => {
  const { hs, client } = await resolution(t, new StubDns(), { maxResponseBytes: 1000 });
  hs.override('/big', { body: 'x'.repeat(5000) });
  await assert.rejects(client.request(hs.serverName, { method: 'GET', path: '/big' }), (err: FederationError) => {
    assert.equal(err.reason, 'bad-response');
    assert.match(err.message, /more than 1000 bytes/);
    return true;
  });
  hs.override('/small', { body: 'x'.repeat(900) });
  assert.equal((await client.request(hs.serverName, { method: 'GET', path: '/small' })).status, 200);
});

test('a homeserver that never answers times out after federation.timeout', async (t) => {
  const { hs, client } = await resolution(t, new StubDns(), { timeout: 300 });
  hs.override('/hang', { hang: true });
  const started = performance.now();
  await assert.rejects(client.request(hs.serverName, { method: 'GET', path: '/hang' }), (err: FederationError) => {
    assert.equal(err.reason, 'unreachable');
    assert.match(err.message, /did not answer within 300 ms/);
    return true;
  });
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
});

test('one whole request, resolution included, ends after federation.timeout × 3 even when every step uses its own timeout', { timeout: 10_000 }, async (t) => {
  // No port: well-known (its address lookup times out), SRV _matrix-fed and _matrix (each times
  // out), then port 8448 (its lookup times out): four timeouts in a row, more than the deadline.
  const silent = new Promise<never>(() => {});
  const dns: DnsResolver = { resolveSrv: () => silent, lookup: () => silent };
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const client = new FederationClient({ timeout: 100, maxResponseBytes: 65536, cacheTtl: HOUR, ...noCallerLimits, ...federationConfig, dns, wellKnownPort: hs.port });
  t.after(() => client.close());
  assert.equal(client.deadline, 300);
  await assert.rejects(client.request('slow-everywhere.test', { method: 'GET', path: '/_matrix/key/v2/server' }), (err: FederationError) => {
    assert.equal(err.reason, 'unreachable');
    assert.match(err.message, /slow-everywhere\.test did not answer within 300 ms for the whole request/);
    return true;
  });
});

test('DNS lookups that never answer time out after federation.timeout: the address lookup fails, a silent SRV lookup counts as no record', { timeout: 10_000 }, async (t) => {
  const silent = new Promise<never>(() => {});
  const dns: DnsResolver = { resolveSrv: () => silent, lookup: () => silent };
  const { client } = await resolution(t, new StubDns(), { timeout: 300, dns });
  const started = performance.now();
  await assert.rejects(client.request('silent.test:8448', { method: 'GET', path: '/_matrix/key/v2/server' }), (err: FederationError) => {
    assert.equal(err.reason, 'unreachable');
    assert.match(err.message, /silent\.test.*300 ms/);
    return true;
  });
  assert.deepEqual(await client.resolver.resolve('silent.test'), { host: 'silent.test', port: 8448, hostHeader: 'silent.test' });
  const elapsed = performance.now() - started;
  // The address lookup, the well-known's address lookup and two SRV lookups: about 4 × 300 ms.
  assert.ok(elapsed >= 1000 && elapsed < 3000, `took ${elapsed} ms`);
});

test('the outbound gate: maxConcurrent run, maxQueued wait in order, the next caller gets 429 at once; a waiter past its deadline leaves', async () => {
  const gate = new OutboundGate(1, 2);
  const releases: Array<() => void> = [];
  const started: string[] = [];
  const job = (name: string) => () => new Promise<string>((resolve) => {
    started.push(name);
    releases.push(() => resolve(name));
  });
  const never = new AbortController().signal;
  const first = gate.run(job('first'), never);
  const leaving = new AbortController();
  const second = gate.run(job('second'), leaving.signal);
  const third = gate.run(job('third'), never);
  assert.deepEqual(gate.load, { running: 1, queued: 2 });
  await assert.rejects(gate.run(job('fourth'), never), (err: MatrixError) => err.statusCode === 429 && err.errcode === 'M_LIMIT_EXCEEDED');
  leaving.abort(new Error('deadline'));
  await assert.rejects(second, /deadline/);
  assert.deepEqual(gate.load, { running: 1, queued: 1 });
  releases.shift()!();
  assert.equal(await first, 'first');
  await new Promise(setImmediate);
  assert.deepEqual(started, ['first', 'third'], 'the waiter that left never runs');
  releases.shift()!();
  assert.equal(await third, 'third');
  assert.deepEqual(gate.load, { running: 0, queued: 0 });
});

test('callers\' requests count per caller (federation.rateLimit) and pass the gate; unisd\'s own requests count nowhere', async (t) => {
  const { hs, client } = await resolution(t, new StubDns(), { rateLimit: { perClient: 2, window: HOUR }, maxConcurrent: 1, maxQueued: 0 });
  const keys = { method: 'GET' as const, path: '/_matrix/key/v2/server' };
  for (let i = 0; i < 2; i++) assert.equal((await client.request(hs.serverName, keys, { onBehalfOf: '192.0.2.1' })).status, 200);
  await assert.rejects(client.request(hs.serverName, keys, { onBehalfOf: '192.0.2.1' }), (err: MatrixError) => err.statusCode === 429 && (err.toJSON().retry_after_ms as number) > 0);
  assert.equal((await client.request(hs.serverName, keys, { onBehalfOf: '192.0.2.2' })).status, 200, 'another caller');
  for (let i = 0; i < 5; i++) assert.equal((await client.request(hs.serverName, keys)).status, 200);
  assert.equal(hs.requests.length, 8);

  hs.override('/hang', { hang: true });
  const hanging = client.request(hs.serverName, { method: 'GET', path: '/hang' }, { onBehalfOf: '192.0.2.3' });
  await new Promise(setImmediate); // the caller's budget is checked first (a store round trip)
  assert.deepEqual(client.load, { running: 1, queued: 0 });
  await assert.rejects(client.request(hs.serverName, keys, { onBehalfOf: '192.0.2.4' }), (err: MatrixError) => err.statusCode === 429);
  assert.equal((await client.request(hs.serverName, keys)).status, 200, 'onbind deliveries do not wait for callers');
  await hs.stop();
  await assert.rejects(hanging, FederationError);
  assert.deepEqual(client.load, { running: 0, queued: 0 });
});

// ---------------------------------------------------------------- X-Matrix

test('X-Matrix headers: quoted, unquoted, escapes, spacing, case', () => {
  const expected = { origin: 'origin.hs.example.com', destination: 'destination.hs.example.com', key: 'ed25519:key1', sig: 'ABCDEF...' };
  assert.deepEqual(parseXMatrix('X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."'), expected);
  assert.deepEqual(parseXMatrix('X-Matrix origin=origin.hs.example.com,destination=destination.hs.example.com,key=ed25519:key1,sig=ABCDEF...'), expected);
  assert.deepEqual(parseXMatrix('x-matrix   Origin="origin.hs.example.com" ,\tDESTINATION=destination.hs.example.com\t, key = "ed25519:key1",  sig="ABCDEF..."'), expected);
  assert.deepEqual(parseXMatrix('X-Matrix origin="hs.example.com:8448",key=ed25519:a_1,sig=ab/cd+ef'), { origin: 'hs.example.com:8448', key: 'ed25519:a_1', sig: 'ab/cd+ef' });
  assert.deepEqual(parseXMatrix('X-Matrix origin="a\\"b\\\\c",key="k",sig="s\\x",unknown="ignored"'), { origin: 'a"b\\c', key: 'k', sig: 'sx' });
  for (const bad of ['Bearer abc', 'X-Matrix', 'X-Matrixorigin="a",key="k",sig="s"', 'X-Matrix origin="a",key="k"', 'X-Matrix origin="a,key="k",sig="s"',
    'X-Matrix origin="a",origin="b",key="k",sig="s"', 'X-Matrix origin="a" key="k",sig="s"', 'X-Matrix origin="a",key="k",sig=""', 'X-Matrix origin="a",key="k",sig="s\\']) {
    assert.equal(parseXMatrix(bad), null, bad);
  }
});

const ID_SERVER = 'id.example.test';

/** A route that answers the origin X-Matrix verified, as unbind will. */
const signedRoutes: FastifyPluginAsync = async (app) => {
  app.route({ method: ['GET', 'POST'], url: '/_matrix/test/signed', handler: async (request) => ({ origin: await app.xmatrix.verify(request) }) });
};

async function xmatrixSetup(t: TestContext, federation: Record<string, unknown> = federationConfig): Promise<{ app: FastifyInstance; hs: FakeHomeserver }> {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const app = await testApp({ federation, server: { name: ID_SERVER } }, { extra: [signedRoutes] });
  t.after(() => app.close());
  return { app, hs };
}

function signedPost(app: FastifyInstance, uri: string, content: unknown, authorization: string) {
  return app.inject({ method: 'POST', url: uri, payload: JSON.stringify(content), headers: { 'content-type': 'application/json', authorization } });
}

test('X-Matrix: a request signed by the homeserver verifies, keys are fetched once', async (t) => {
  const { app, hs } = await xmatrixSetup(t);
  const uri = '/_matrix/test/signed?b=2&a=%20x';
  const content = { mxid: '@alice:example.org', threepid: { medium: 'email', address: 'alice@example.org' } };
  const res = await signedPost(app, uri, content, hs.signRequest({ method: 'POST', uri, destination: ID_SERVER, content }));
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { origin: hs.serverName });

  // Without a body, and without the (optional) destination parameter.
  const header = hs.signRequest({ method: 'GET', uri: '/_matrix/test/signed', destination: ID_SERVER }).replace(/,destination="[^"]*"/, '');
  const get = await app.inject({ method: 'GET', url: '/_matrix/test/signed', headers: { authorization: header } });
  assert.equal(get.statusCode, 200, get.body);
  assert.equal(hs.requests.filter((r) => r.path === '/_matrix/key/v2/server').length, 1, 'keys cached');
});

test('X-Matrix: concurrent requests from an origin whose keys are not cached share one key fetch', async (t) => {
  const { app, hs } = await xmatrixSetup(t);
  const uri = '/_matrix/test/signed';
  const header = hs.signRequest({ method: 'GET', uri, destination: ID_SERVER });
  const answers = await Promise.all(Array.from({ length: 5 }, () => app.inject({ method: 'GET', url: uri, headers: { authorization: header } })));
  assert.deepEqual(answers.map((res) => res.statusCode), [200, 200, 200, 200, 200]);
  assert.equal(hs.requests.filter((r) => r.path === '/_matrix/key/v2/server').length, 1);
});

test('X-Matrix: key fetches count against the requester\'s network (federation.rateLimit); verifying with cached keys does not', async (t) => {
  const { app, hs } = await xmatrixSetup(t, { ...federationConfig, rateLimit: { perClient: 1 } });
  const other = await startFakeHomeserver();
  t.after(() => other.close());
  const uri = '/_matrix/test/signed';
  const from = (server: FakeHomeserver, remoteAddress: string) =>
    app.inject({ method: 'GET', url: uri, remoteAddress, headers: { authorization: server.signRequest({ method: 'GET', uri, destination: ID_SERVER }) } });
  assert.equal((await from(hs, '192.0.2.1')).statusCode, 200);
  const limited = await from(other, '192.0.2.1');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.equal(other.requests.length, 0, 'no fetch past the limit');
  assert.equal((await from(hs, '192.0.2.1')).statusCode, 200, 'keys already cached: nothing to fetch, nothing counted');
  assert.equal((await from(other, '192.0.2.2')).statusCode, 200, 'another network; the refused fetch cached nothing');
});

test('X-Matrix: a signature over `destination` (server-server spec style) also verifies', async (t) => {
  const { app, hs } = await xmatrixSetup(t);
  const uri = '/_matrix/test/signed';
  const content = { a: 1 };
  const signed = signJson({ method: 'POST', uri, origin: hs.serverName, destination: ID_SERVER, content }, hs.serverName, hs.signingKey);
  const header = `X-Matrix origin="${hs.serverName}",destination="${ID_SERVER}",key="${hs.signingKey.keyId}",sig="${signed.signatures[hs.serverName][hs.signingKey.keyId]}"`;
  assert.equal((await signedPost(app, uri, content, header)).statusCode, 200);
});

test('X-Matrix: wrong destination, tampered content or uri, unknown or wrong key, missing header are 401', async (t) => {
  const { app, hs } = await xmatrixSetup(t);
  const uri = '/_matrix/test/signed';
  const content = { mxid: '@alice:example.org' };
  const good = hs.signRequest({ method: 'POST', uri, destination: ID_SERVER, content });
  const other = generateSigningKey('other');
  const cases: Array<[string, Promise<{ statusCode: number; json: () => any }>, RegExp]> = [
    ['wrong destination', signedPost(app, uri, content, hs.signRequest({ method: 'POST', uri, destination: 'other.example', content })), /signed for other\.example/],
    ['destination_is for another server, header silent', signedPost(app, uri, content, hs.signRequest({ method: 'POST', uri, destination: 'other.example', content }).replace(/,destination="[^"]*"/, '')), /Invalid X-Matrix signature/],
    ['tampered content', signedPost(app, uri, { mxid: '@mallory:example.org' }, good), /Invalid X-Matrix signature/],
    ['tampered uri', signedPost(app, `${uri}?extra=1`, content, good), /Invalid X-Matrix signature/],
    ['tampered method', app.inject({ method: 'GET', url: uri, headers: { authorization: good } }), /Invalid X-Matrix signature/],
    ['unknown key', signedPost(app, uri, content, hs.signRequest({ method: 'POST', uri, destination: ID_SERVER, content, key: other })), /has no current key ed25519:other/],
    ['wrong key', signedPost(app, uri, content, hs.signRequest({ method: 'POST', uri, destination: ID_SERVER, content, key: other }).replace('ed25519:other', hs.signingKey.keyId)), /Invalid X-Matrix signature/],
    ['missing header', signedPost(app, uri, content, ''), /Missing or malformed/],
    ['bearer token', signedPost(app, uri, content, 'Bearer abc'), /Missing or malformed/],
    ['malformed header', signedPost(app, uri, content, 'X-Matrix origin="unterminated'), /Missing or malformed/],
    ['invalid origin', signedPost(app, uri, content, good.replace(`origin="${hs.serverName}"`, 'origin="bad name"')), /not a valid server name/],
    ['float content', signedPost(app, uri, { n: 1.5 }, good), /Invalid X-Matrix signature/],
  ];
  for (const [label, pending, message] of cases) {
    const res = await pending;
    assert.equal(res.statusCode, 401, label);
    assert.equal(res.json().errcode, 'M_UNAUTHORIZED', label);
    assert.match(res.json().error, message, label);
  }
});

test('X-Matrix: key responses that are not self-signed, name another server or have expired are refused', async (t) => {
  const { app, hs } = await xmatrixSetup(t);
  const other = generateSigningKey('fake');
  const keys = (overrides: Record<string, unknown>, signer = hs.signingKey) => signJson({
    server_name: hs.serverName, verify_keys: { [hs.signingKey.keyId]: { key: hs.signingKey.publicKeyBase64 } }, valid_until_ts: Date.now() + HOUR, ...overrides,
  }, hs.serverName, signer);
  const cases: Array<[string, unknown, RegExp]> = [
    ['signed by another key', keys({}, other), /signature by ed25519:fake is invalid/],
    ['unsigned', { ...keys({}), signatures: {} }, /not signed by its own keys/],
    ['another server', keys({ server_name: 'evil.example' }), /names another server/],
    ['expired', keys({ valid_until_ts: Date.now() - 1 }), /expired/],
    ['not an object', [], /without a key object/],
  ];
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  for (const [label, body, message] of cases) {
    hs.override('/_matrix/key/v2/server', { body });
    mock.timers.tick(61_000); // past the refetch interval
    const uri = '/_matrix/test/signed';
    const res = await app.inject({ method: 'GET', url: uri, headers: { authorization: hs.signRequest({ method: 'GET', uri, destination: ID_SERVER }) } });
    assert.equal(res.statusCode, 401, label);
    assert.match(res.json().error, message, label);
  }
});

test('X-Matrix: an unreachable origin and one the SSRF guard refuses get the same 401: the caller learns nothing of the network', async (t) => {
  const uri = '/_matrix/test/signed';
  const down = await xmatrixSetup(t);
  const header = down.hs.signRequest({ method: 'GET', uri, destination: ID_SERVER });
  await down.hs.stop();
  const unreachable = await down.app.inject({ method: 'GET', url: uri, headers: { authorization: header } });
  assert.equal(unreachable.statusCode, 401);
  assert.equal(unreachable.json().error, `Could not get the keys of ${down.hs.serverName}: it could not be reached`);

  const refused = await xmatrixSetup(t, { ...federationConfig, allowedAddresses: [] });
  const res = await refused.app.inject({ method: 'GET', url: uri, headers: { authorization: refused.hs.signRequest({ method: 'GET', uri, destination: ID_SERVER }) } });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().errcode, 'M_UNAUTHORIZED');
  assert.equal(res.json().error, `Could not get the keys of ${refused.hs.serverName}: it could not be reached`);
  assert.equal(refused.hs.requests.length, 0);
});
