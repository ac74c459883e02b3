/**
 * Hash lookup through a running unisd, the way a client does it: an app listening on loopback
 * with hash lookup on and the given provider config, a user registered with an OpenID token from
 * a fake homeserver, the terms guarding /v2/lookup accepted, the pepper read from
 * GET /v2/hash_details, and POST /v2/lookup asked with hashes computed here from the spec's
 * formula (not with unisd's own hash function).
 *
 *   const found = await lookupByHash(t, { sql: { ... } }, [{ medium: 'email', address: 'alice@example.com' }]);
 *   // { 'alice@example.com email': '@alice:example.org' }: what was found, keyed "<address> <medium>"
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ThreePid } from '../../core/store/port.js';
import { deepMerge, testApp } from './app.js';
import { federationConfig, startFakeHomeserver } from './fake-homeserver.js';

const V2 = '/_matrix/identity/v2';
const TERMS_URL = 'https://id.example.test/privacy-1.0.html';

/** The spec's lookup hash: unpadded URL-safe base64 of sha256("<address> <medium> <pepper>"). */
export function specHash(address: string, medium: string, pepper: string): string {
  const base64 = createHash('sha256').update(`${address} ${medium} ${pepper}`, 'utf8').digest('base64');
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${V2}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

/**
 * Looks `threepids` up by sha256 hash through an app built with `overrides` (YAML shape: the
 * provider's section and anything it needs, e.g. matrix.domain). Fails if a 3PID it finds is one
 * of unisd's own binds: what is found came from the providers. Closes everything after the test.
 */
export async function lookupByHash(
  t: { after: (fn: () => unknown) => void },
  overrides: Record<string, unknown>,
  threepids: ThreePid[],
): Promise<Record<string, string>> {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const app = await testApp(deepMerge({
    federation: federationConfig,
    // The pepper must not rotate between hash_details and the lookup.
    hashing: { enabled: true, algorithms: ['sha256'], delay: '1d' },
    policy: { policies: { privacy: { version: '1.0', terms: { en: { name: 'Privacy', url: TERMS_URL } }, regexp: [`${V2}/hash_details`, `${V2}/lookup`] } } },
  }, overrides));
  t.after(() => app.close());
  const base = await app.listen({ host: '127.0.0.1', port: 0 });

  hs.addOpenIdToken('openid', `@asker:${hs.serverName}`);
  const { token } = await call(base, 'POST', '/account/register', undefined, { access_token: 'openid', token_type: 'Bearer', matrix_server_name: hs.serverName, expires_in: 3600 });
  const terms = await call(base, 'GET', '/terms');
  assert.deepEqual(Object.keys(terms.policies), ['privacy']);
  await call(base, 'POST', '/terms', token, { user_accepts: [terms.policies.privacy.en.url] });

  const { lookup_pepper: pepper, algorithms } = await call(base, 'GET', '/hash_details', token);
  assert.ok(algorithms.includes('sha256'));
  const asked = new Map(threepids.map((t) => [specHash(t.address, t.medium, pepper), `${t.address} ${t.medium}`]));
  const { mappings } = await call(base, 'POST', '/lookup', token, { algorithm: 'sha256', pepper, addresses: [...asked.keys()] });

  const found: Record<string, string> = {};
  for (const [hash, mxid] of Object.entries(mappings as Record<string, string>)) {
    const threepid = asked.get(hash);
    assert.ok(threepid, `answered a hash nobody asked: ${hash}`);
    found[threepid] = mxid;
  }
  for (const { medium, address } of threepids) {
    assert.equal(await app.store.binds.get(medium, address), null, `${address} is one of unisd's own binds`);
  }
  return found;
}
