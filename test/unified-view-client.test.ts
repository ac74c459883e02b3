/**
 * The client's discovery (plugins/unified-view/client.ts) against a stand-in hub whose answers
 * the test writes, and a real unisd member: what it does with members it cannot or must not ask.
 * The whole flow against real processes is test/unified-view-e2e.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { testApp } from './helpers/app.js';
import { freePort } from './helpers/net.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { discover } from '../plugins/unified-view/client.js';

const PEPPER = 'hubPepper';
const ALT = 'previousHubPepper';

/** A hub that maps `email:<address>` hashes by the rule the test gives, per pepper; records the tokens and peppers it sees. */
async function stubHub(answer: (pepper: string, hash: string) => { mxid?: string; server?: string } | null) {
  const seen: Array<{ path: string; token?: string; pepper?: string }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (part) => { text += part; });
    req.on('end', () => {
      const token = req.headers.authorization?.replace(/^Bearer /, '');
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/_matrix/identity/v2/hash_details') {
        seen.push({ path: req.url, token });
        return json(200, { algorithms: ['sha256'], lookup_pepper: PEPPER, alt_lookup_peppers: [ALT] });
      }
      const { pepper, addresses } = JSON.parse(text) as { pepper: string; addresses: string[] };
      seen.push({ path: req.url!, token, pepper });
      const mappings: Record<string, string> = {};
      const third: Record<string, string[]> = {};
      for (const hash of addresses) {
        const found = answer(pepper, hash);
        if (found?.mxid) mappings[hash] = found.mxid;
        if (found?.server) (third[found.server] ??= []).push(hash);
      }
      json(200, { mappings, ...(Object.keys(third).length ? { third_party_mappings: third } : {}) });
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, close: () => new Promise((done) => server.close(done)) };
}

test('discover: members found, a member that fails and names that are no server names are reported; the hub\'s token never goes to a member', async (t) => {
  const member = await testApp({
    server: { name: 'member.example.test' }, matrix: { domain: 'member.example' },
    memory: { enabled: true, hashEnabled: true, identities: [{ username: 'mia', threepids: [{ medium: 'email', address: 'mia@member.example' }] }] },
  });
  t.after(() => member.close());
  const memberUrl = await member.listen({ host: '127.0.0.1', port: 0 });
  const memberToken = await member.accounts.issue('@asker:example.org');
  const downUrl = `http://127.0.0.1:${await freePort()}`;

  const hashOf = (address: string, pepper: string) => lookupHash(address, 'email', pepper);
  const hub = await stubHub((pepper, hash) => {
    if (pepper === PEPPER && hash === hashOf('hugo@hub.example', PEPPER)) return { mxid: '@hugo:hub.example' };
    if (pepper === PEPPER && hash === hashOf('mia@member.example', PEPPER)) return { server: 'member.example.test' };
    if (pepper === PEPPER && hash === hashOf('dan@down.example', PEPPER)) return { server: 'down.example.test' };
    if (pepper === PEPPER && hash === hashOf('eve@evil.example', PEPPER)) return { server: 'https://evil.example/path' };
    // Only under the previous pepper: a member that has not pushed the new one yet.
    if (pepper === ALT && hash === hashOf('late@member.example', ALT)) return { server: 'member.example.test' };
    return null;
  });
  t.after(() => hub.close());

  const tokensAsked: string[] = [];
  const result = await discover(
    ['Mia@Member.example', 'hugo@hub.example', 'dan@down.example', 'eve@evil.example', 'late@member.example', 'nobody@x.example'].map((address) => ({ medium: 'email', address })),
    {
      hub: hub.url,
      token: (base, server) => {
        tokensAsked.push(server);
        return base === hub.url ? 'hub-token' : base === memberUrl ? memberToken : 'down-token';
      },
      resolveBaseUrl: (server) => (server === 'member.example.test' ? memberUrl : downUrl),
      timeout: 5000,
    },
  );
  assert.deepEqual(result.found, [
    { medium: 'email', address: 'hugo@hub.example', mxid: '@hugo:hub.example', foundAt: hub.url },
    { medium: 'email', address: 'Mia@Member.example', mxid: '@mia:member.example', foundAt: 'member.example.test', server: 'member.example.test' },
  ]);
  assert.deepEqual(result.notFound.map((x) => x.address).sort(), ['dan@down.example', 'eve@evil.example', 'late@member.example', 'nobody@x.example']);
  assert.deepEqual(result.failures.map((f) => f.server).sort(), ['down.example.test', 'https://evil.example/path']);
  assert.match(result.failures.find((f) => f.server === 'down.example.test')!.error, /could not be reached/);
  assert.match(result.failures.find((f) => f.server.startsWith('https'))!.error, /not a server name/);
  assert.deepEqual(hub.seen.filter((s) => s.path.endsWith('/lookup')).map((s) => s.pepper), [PEPPER, ALT], 'the alternate is asked only for what the current pepper left unanswered');
  assert.ok(hub.seen.every((s) => s.token === 'hub-token'));
  assert.ok(!tokensAsked.includes('https://evil.example/path'), 'no token is handed out for a name that is not a server name');
});

test('discover: the hub named more members than maxServers: the rest are reported, not asked', async (t) => {
  const hub = await stubHub((pepper, hash) => {
    for (let i = 0; i < 3; i++) if (hash === lookupHash(`u${i}@x.example`, 'email', pepper)) return { server: `m${i}.example.test` };
    return null;
  });
  t.after(() => hub.close());
  const asked: string[] = [];
  const result = await discover([0, 1, 2].map((i) => ({ medium: 'email', address: `u${i}@x.example` })), {
    hub: hub.url, maxServers: 1, alternates: false, timeout: 2000,
    token: () => null,
    resolveBaseUrl: (server) => { asked.push(server); return `http://127.0.0.1:1`; },
  });
  assert.deepEqual(asked, ['m0.example.test']);
  assert.deepEqual(result.failures.filter((f) => /maxServers/.test(f.error)).map((f) => f.server), ['m1.example.test', 'm2.example.test']);
});
