/**
 * MSC4004 end to end, with three unisd processes on loopback: a hub and two members, each with
 * its own SQLite file, signing key, pepper and memory-provider users. Member A signs its pushes
 * (the hub fetches its key from A's pubkey route), member B uses a shared secret. A client
 * registers at each server with an OpenID token of a (fake) homeserver, as Element does, and
 * discovers contacts through the hub with plugins/unified-view/client.ts and `unisd lookup`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'undici';
import { startUnisd, reservePort, childEnv, ROOT } from './helpers/unisd-process.js';
import { federationConfig, startFakeHomeserver } from './helpers/fake-homeserver.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { validationLink } from './helpers/sessions.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { randomToken } from '../core/crypto/tokens.js';
import { discover, registerWithOpenId, type DiscoveryResult } from '../plugins/unified-view/client.js';

const HUB = 'hub.unified.test';
const A = 'a.unified.test';
const B = 'b.unified.test';
const B_SECRET = randomToken(24);
const ALT_LIFETIME_MS = 10_000;

const harry = { medium: 'email', address: 'harry@hub.example' };
const alice = { medium: 'email', address: 'alice@a.example' };
const alicePhone = { medium: 'msisdn', address: '15550000001' };
const bob = { medium: 'email', address: 'bob@b.example' };
const carol = { medium: 'email', address: 'carol@a.example' };
const nobody = { medium: 'email', address: 'nobody@nowhere.example' };

/** Polls `probe` until it returns a value, at most `ms`; no fixed sleep decides the outcome. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const memberUsers = (domain: string, users: Array<{ username: string; threepids: unknown[] }>) => ({ matrix: { domain }, memory: { enabled: true, hashEnabled: true, identities: users } });

test('unified view across three processes: hub users in mappings, member users in third_party_mappings and found at their member, pepper rotation without a gap, unbinds withdrawn', { timeout: 240_000 }, async (t) => {
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const openId = randomToken();
  hs.addOpenIdToken(openId, `@asker:${hs.serverName}`);

  const [hubPort, aPort, bPort] = [await reservePort(), await reservePort(), await reservePort()];
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const bases: Record<string, string> = { [A]: `http://127.0.0.1:${aPort}`, [B]: `http://127.0.0.1:${bPort}` };
  const push = { pollInterval: '1s', debounce: '100ms', retry: { initialDelay: '200ms', maxDelay: '2s' } };
  // Members first: the hub fetches A's key from it when A first pushes.
  const [memberA, memberB] = await Promise.all([
    startUnisd(t, {
      server: { name: A }, federation: federationConfig, email: { smtp: smtp.smtpConfig() },
      ...memberUsers('a.example', [{ username: 'alice', threepids: [alice, alicePhone] }]),
      unifiedViewPush: { enabled: true, hubs: [{ url: hubUrl, server: HUB, auth: 'signature' }], ...push },
    }, aPort),
    startUnisd(t, {
      server: { name: B }, federation: federationConfig,
      ...memberUsers('b.example', [{ username: 'bob', threepids: [bob] }]),
      unifiedViewPush: { enabled: true, hubs: [{ url: hubUrl, server: HUB, auth: 'secret', secret: B_SECRET }], ...push },
    }, bPort),
  ]);
  await startUnisd(t, {
    server: { name: HUB }, federation: federationConfig,
    ...memberUsers('hub.example', [{ username: 'harry', threepids: [harry] }]),
    hashing: { rotationPolicy: 'per_requests', requests: 150, altPeppers: { lifetime: `${ALT_LIFETIME_MS}ms`, count: 1 } },
    unifiedView: { enabled: true, members: [{ server: A, url: bases[A] }, { server: B, secret: B_SECRET }], syncInterval: '1s' },
  }, hubPort);

  // The client's tokens: one registration per server with the same OpenID token.
  const tokens = new Map<string, Promise<string>>();
  const token = (base: string) => {
    if (!tokens.has(base)) tokens.set(base, registerWithOpenId(base, { access_token: openId, matrix_server_name: hs.serverName }));
    return tokens.get(base)!;
  };
  const client = (threepids: Array<{ medium: string; address: string }>) => discover(threepids, { hub: hubUrl, token, resolveBaseUrl: (server) => bases[server]! });

  async function hubCall(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await request(`${hubUrl}/_matrix/identity/v2${path}`, {
      method, headers: { authorization: `Bearer ${await token(hubUrl)}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, json: await res.body.json() };
  }
  const hubPepper = async (): Promise<{ lookup_pepper: string; alt_lookup_peppers?: string[] }> => (await hubCall('GET', '/hash_details')).json;
  const rawLookup = (pepper: string, threepids: Array<{ medium: string; address: string }>) =>
    hubCall('POST', '/lookup', { algorithm: 'sha256', pepper, addresses: threepids.map((x) => lookupHash(x.address, x.medium, pepper)) });
  const h = (x: { medium: string; address: string }, pepper: string) => lookupHash(x.address, x.medium, pepper);
  /** Both members' users are in third_party_mappings under their member, for `pepper`. */
  const membersVisible = async (pepper: string): Promise<boolean> => {
    const { status, json } = await rawLookup(pepper, [alice, bob]);
    return status === 200 && json.third_party_mappings?.[A]?.includes(h(alice, pepper)) && json.third_party_mappings?.[B]?.includes(h(bob, pepper));
  };
  const mxidsOf = (result: DiscoveryResult) => Object.fromEntries(result.found.map((f) => [`${f.medium}:${f.address}`, `${f.mxid} ${f.server ?? 'hub'}`]));

  await t.test('members push; the hub answers its own users in mappings and members\' in third_party_mappings under the right member', async () => {
    const { lookup_pepper: pepper } = await hubPepper();
    await until('both members pushed', 60_000, async () => (await membersVisible(pepper)) || undefined);
    const { status, json } = await rawLookup(pepper, [harry, alice, alicePhone, bob, nobody]);
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(json.mappings, { [h(harry, pepper)]: '@harry:hub.example' });
    assert.deepEqual(Object.keys(json.third_party_mappings).sort(), [A, B]);
    assert.deepEqual([...json.third_party_mappings[A]].sort(), [h(alice, pepper), h(alicePhone, pepper)].sort());
    assert.deepEqual(json.third_party_mappings[B], [h(bob, pepper)]);
    assert.ok(memberA.lines.some((l) => l.msg === 'unified view pushed') && memberB.lines.some((l) => l.msg === 'unified view pushed'));
  });

  await t.test('the client function follows third_party_mappings to each member and finds the Matrix IDs', async () => {
    const result = await client([harry, alice, alicePhone, bob, nobody]);
    assert.deepEqual(mxidsOf(result), {
      'email:harry@hub.example': '@harry:hub.example hub',
      'email:alice@a.example': `@alice:a.example ${A}`,
      'msisdn:15550000001': `@alice:a.example ${A}`,
      'email:bob@b.example': `@bob:b.example ${B}`,
    });
    assert.deepEqual(result.notFound, [nobody]);
    assert.deepEqual(result.failures, []);
  });

  await t.test('unisd lookup --hub prints the same discovery, registering with the OpenID token at each server', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', 'lookup', '--hub', hubUrl, '--openid', openId, '--homeserver', hs.serverName,
      '--base', `${A}=${bases[A]}`, '--base', `${B}=${bases[B]}`, 'email:Alice@A.example', 'email:harry@hub.example', 'email:bob@b.example', 'email:nobody@nowhere.example'],
    { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (chunk) => { out += chunk; });
    let err = '';
    child.stderr!.on('data', (chunk) => { err += chunk; });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, err);
    assert.deepEqual(out.trim().split('\n').sort(), [
      `email:Alice@A.example  @alice:a.example  (member ${A})`,
      `email:bob@b.example  @bob:b.example  (member ${B})`,
      `email:harry@hub.example  @harry:hub.example  (hub ${hubUrl})`,
      'email:nobody@nowhere.example  not found',
    ]);
  });

  await t.test('a bind at a member reaches the hub; after its unbind the hub stops pointing to that member for it', async () => {
    const clientSecret = randomToken(12);
    const since = smtp.mails.length;
    const requested = await request(`${bases[A]}/_matrix/identity/api/v1/validate/email/requestToken`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_secret: clientSecret, email: carol.address, send_attempt: 1 }),
    });
    const { sid } = await requested.body.json() as { sid: string };
    assert.equal(requested.statusCode, 200);
    const link = validationLink((await smtp.nextMail(since)).raw);
    assert.equal((await request(link)).statusCode, 200);
    const bound = await request(`${bases[A]}/_matrix/identity/api/v1/3pid/bind`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sid, client_secret: clientSecret, mxid: '@carol:a.example' }),
    });
    assert.equal(bound.statusCode, 200, await bound.body.text());

    const pointed = async (want: boolean) => {
      const { lookup_pepper: pepper } = await hubPepper();
      const { json } = await rawLookup(pepper, [carol]);
      return (json.third_party_mappings?.[A]?.includes(h(carol, pepper)) ?? false) === want || undefined;
    };
    await until('the hub points to A for the new bind', 20_000, () => pointed(true));
    assert.deepEqual(mxidsOf(await client([carol])), { 'email:carol@a.example': `@carol:a.example ${A}` });

    const unbound = await request(`${bases[A]}/_matrix/identity/api/v1/3pid/unbind`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sid, client_secret: clientSecret, mxid: '@carol:a.example', threepid: carol }),
    });
    assert.equal(unbound.statusCode, 200, await unbound.body.text());
    await until('the hub stops pointing to A for the unbound 3PID', 20_000, () => pointed(false));
    const after = await client([carol, alice]);
    assert.deepEqual(after.notFound, [carol]);
    assert.deepEqual(mxidsOf(after), { 'email:alice@a.example': `@alice:a.example ${A}` }, 'the member\'s other users stay');
  });

  await t.test('after the hub rotates its pepper: the old one keeps answering until the alternate expires, members re-push, no moment without the members\' users', async () => {
    const { lookup_pepper: oldPepper } = await hubPepper();
    assert.ok(await membersVisible(oldPepper));
    // per_requests: lookups with the current pepper until the hub rotates.
    const newPepper = await until('the hub rotated', 60_000, async () => {
      await Promise.all(Array.from({ length: 10 }, () => rawLookup(oldPepper, [nobody])));
      const now = await hubPepper();
      return now.lookup_pepper !== oldPepper ? now : undefined;
    }, 0);
    const rotatedAt = Date.now();
    assert.deepEqual(newPepper.alt_lookup_peppers, [oldPepper], 'the previous pepper is listed as an alternate');

    // Until the members' snapshots for the new pepper are visible, the old pepper answers them,
    // and the client function finds them (it asks the alternate for what the current missed).
    let probes = 0;
    await until('members re-pushed under the new pepper', ALT_LIFETIME_MS, async () => {
      if (await membersVisible(newPepper.lookup_pepper)) return true;
      probes++;
      assert.ok(await membersVisible(oldPepper), 'the old pepper still answers the members\' users');
      assert.deepEqual(Object.keys(mxidsOf(await client([alice, bob]))).sort(), ['email:alice@a.example', 'email:bob@b.example']);
      return undefined;
    });
    assert.ok(Date.now() - rotatedAt < ALT_LIFETIME_MS, 'members re-pushed before the alternate expired');
    assert.ok(await membersVisible(oldPepper), 'the old pepper still answers while it is an alternate');
    t.diagnostic(`probes before the members' new snapshots were visible: ${probes}`);

    // Once the alternate expires: M_INVALID_PEPPER for the old pepper, everything found with the new.
    const refused = await until('the alternate expired', ALT_LIFETIME_MS + 20_000, async () => {
      const res = await rawLookup(oldPepper, [alice]);
      return res.status === 400 ? res.json : undefined;
    }, 250);
    assert.equal(refused.errcode, 'M_INVALID_PEPPER');
    const result = await client([harry, alice, bob]);
    assert.deepEqual(Object.values(mxidsOf(result)).sort(), ['@alice:a.example a.unified.test', '@bob:b.example b.unified.test', '@harry:hub.example hub']);
  });

  await t.test('unisd unified-view push runs one push now and prints it per hub', async () => {
    await memberB.stop(); // its SQLite database belongs to one process
    const run = async (...extra: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', 'unified-view', 'push', '-c', memberB.configFile, ...extra], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk) => { out += chunk; });
      child.stderr!.on('data', (chunk) => { err += chunk; });
      const [code] = await once(child, 'exit');
      return { code, out, err };
    };
    const ok = await run('--hub', hubUrl);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, new RegExp(`^${hubUrl.replace(/[.]/g, '\\.')}  ok  1 3PIDs, 1 hashes for 1 pepper\\(s\\), 1 chunk\\(s\\), [0-9.]+ s\\n$`));
    const unknown = await run('--hub', 'https://elsewhere.example');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /^unisd: --hub https:\/\/elsewhere\.example: not in unifiedViewPush\.hubs/);
  });
});
