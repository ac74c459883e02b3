import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { federationConfig, startFakeHomeserver, type FakeHomeserver } from './helpers/fake-homeserver.js';
import { hashSecret } from '../core/crypto/tokens.js';

const V2 = '/_matrix/identity/v2';

async function setup(t: { after: (fn: () => Promise<void>) => void }, overrides: Record<string, unknown> = {}): Promise<{ app: FastifyInstance; hs: FakeHomeserver }> {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const app = await testApp({ federation: federationConfig, ...overrides });
  t.after(() => app.close());
  return { app, hs };
}

/** What Element sends: the homeserver's OpenID token object as it came. */
function register(app: FastifyInstance, body: unknown) {
  return app.inject({ method: 'POST', url: `${V2}/account/register`, payload: body as object, headers: { 'content-type': 'application/json' } });
}

const openIdBody = (hs: FakeHomeserver, accessToken: string) => ({ access_token: accessToken, token_type: 'Bearer', matrix_server_name: hs.serverName, expires_in: 3600 });

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('register exchanges an OpenID token for an identity token stored only as its hash', async (t) => {
  const { app, hs } = await setup(t);
  const openIdToken = 'tok/+ =?&%é';
  hs.addOpenIdToken(openIdToken, `@alice:${hs.serverName}`);

  const res = await register(app, { access_token: openIdToken, matrix_server_name: hs.serverName });
  assert.equal(res.statusCode, 200, res.body);
  const { token, access_token } = res.json();
  assert.match(token, /^[A-Za-z0-9_-]{40,}$/);
  assert.equal(access_token, token);

  // The homeserver got the token percent-encoded in the query, over TLS, with its own name as Host.
  const userinfo = hs.requests.find((r) => r.path.startsWith('/_matrix/federation/v1/openid/userinfo'));
  assert.equal(userinfo?.path, `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(openIdToken)}`);
  assert.equal(userinfo?.host, hs.serverName);
  assert.equal(userinfo?.servername, false, 'no SNI for an IP literal');

  const account = await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer(token) });
  assert.equal(account.statusCode, 200);
  assert.deepEqual(account.json(), { user_id: `@alice:${hs.serverName}` });

  const stored = await app.store.accounts.get(hashSecret(token));
  assert.equal(stored?.userId, `@alice:${hs.serverName}`);
  assert.equal(stored?.expiresAt, null, 'tokens never expire by default');
  assert.equal(await app.store.accounts.get(token), null, 'the clear token is not a key of the store');
});

test('register accepts the full OpenID object as clients send it and answers both token names', async (t) => {
  const { app, hs } = await setup(t);
  hs.addOpenIdToken('full', `@bob:${hs.serverName}`);
  const res = await register(app, openIdBody(hs, 'full'));
  assert.equal(res.statusCode, 200);
  assert.deepEqual(Object.keys(res.json()).sort(), ['access_token', 'token']);
});

test('register without access_token or matrix_server_name is 400 M_MISSING_PARAMS; a bad server name 400 M_INVALID_PARAM', async (t) => {
  const { app, hs } = await setup(t);
  const noToken = await register(app, { matrix_server_name: hs.serverName });
  assert.equal(noToken.statusCode, 400);
  assert.equal(noToken.json().errcode, 'M_MISSING_PARAMS');
  const noServer = await register(app, { access_token: 'x' });
  assert.equal(noServer.statusCode, 400);
  assert.equal(noServer.json().errcode, 'M_MISSING_PARAMS');
  for (const name of ['bad name', 'example.org:99999', '[not-ipv6]', '300.1.1.1', '']) {
    const bad = await register(app, { access_token: 'x', matrix_server_name: name });
    assert.equal(bad.statusCode, 400, name);
    assert.equal(bad.json().errcode, 'M_INVALID_PARAM', name);
  }
  assert.equal(hs.requests.length, 0);
});

test('a token the homeserver does not know is 401 M_UNAUTHORIZED', async (t) => {
  const { app, hs } = await setup(t);
  const res = await register(app, openIdBody(hs, 'forged'));
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().errcode, 'M_UNAUTHORIZED');
  assert.match(res.json().error, /did not accept the OpenID token \(HTTP 401\)/);
  assert.equal(hs.requests.length, 1);
});

test('a sub of another server, or no valid user id at all, is 401', async (t) => {
  const { app, hs } = await setup(t);
  hs.addOpenIdToken('other-server', '@mallory:evil.example');
  hs.addOpenIdToken('not-a-user', 'mallory');
  hs.addOpenIdToken('port-differs', `@alice:127.0.0.1`);
  for (const token of ['other-server', 'not-a-user', 'port-differs']) {
    const res = await register(app, openIdBody(hs, token));
    assert.equal(res.statusCode, 401, token);
    assert.equal(res.json().errcode, 'M_UNAUTHORIZED', token);
  }
  hs.override('/_matrix/federation/v1/openid/userinfo', { body: 'garbage, not JSON' });
  const garbage = await register(app, openIdBody(hs, 'other-server'));
  assert.equal(garbage.statusCode, 401);
  assert.match(garbage.json().error, /without a valid user id/);
});

test('an unreachable homeserver is 401, quickly', async (t) => {
  const { app, hs } = await setup(t);
  const name = hs.serverName;
  await hs.stop(); // nothing listens on its port now
  const started = performance.now();
  const res = await register(app, { access_token: 'x', matrix_server_name: name });
  const elapsed = performance.now() - started;
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().errcode, 'M_UNAUTHORIZED');
  assert.match(res.json().error, /could not be reached$/);
  assert.doesNotMatch(res.json().error, /ECONNREFUSED|refused|port/i, 'no network detail for the client');
  assert.ok(elapsed < 2000, `took ${elapsed} ms`);
});

test('a homeserver on an address the SSRF guard refuses is 401 as if unreachable (nothing said of its address) and is never contacted', async (t) => {
  const { app, hs } = await setup(t, { federation: { ...federationConfig, allowedAddresses: [] } });
  hs.addOpenIdToken('good', `@alice:${hs.serverName}`);
  const res = await register(app, openIdBody(hs, 'good'));
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().error, `Could not check the OpenID token: ${hs.serverName} could not be reached`);
  assert.equal(hs.requests.length, 0);
});

test('register is limited per client network (federation.rateLimit.perClient): past it 429 and the homeserver is not asked', async (t) => {
  const { app, hs } = await setup(t, { federation: { ...federationConfig, rateLimit: { perClient: 2, window: '1h' } } });
  hs.addOpenIdToken('good', `@alice:${hs.serverName}`);
  const from = (remoteAddress: string) => app.inject({ method: 'POST', url: `${V2}/account/register`, payload: openIdBody(hs, 'good'), remoteAddress });
  assert.equal((await from('192.0.2.1')).statusCode, 200);
  assert.equal((await from('192.0.2.1')).statusCode, 200);
  const limited = await from('192.0.2.1');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.ok(limited.json().retry_after_ms > 0);
  const asked = hs.requests.filter((r) => r.path.startsWith('/_matrix/federation/v1/openid/userinfo')).length;
  assert.equal(asked, 2);
  assert.equal((await from('192.0.2.2')).statusCode, 200, 'another network');
});

test('register while federation.maxConcurrent requests for callers are running and the queue is full is 429 at once', async (t) => {
  const { app, hs } = await setup(t, { federation: { ...federationConfig, maxConcurrent: 1, maxQueued: 0 } });
  hs.override('/_matrix/federation/v1/openid/userinfo', { hang: true });
  const first = register(app, openIdBody(hs, 'slow'));
  while (hs.requests.length === 0) await new Promise(setImmediate); // the first one is now held by the homeserver
  const busy = await app.inject({ method: 'POST', url: `${V2}/account/register`, payload: openIdBody(hs, 'other'), remoteAddress: '192.0.2.9' });
  assert.equal(busy.statusCode, 429);
  assert.equal(busy.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.equal(hs.requests.length, 1);
  await hs.stop();
  assert.equal((await first).statusCode, 401);
});

test('TLS certificates are verified unless verifyTls is off', async (t) => {
  const { app, hs } = await setup(t, { federation: { ...federationConfig, verifyTls: true } });
  hs.addOpenIdToken('good', `@alice:${hs.serverName}`);
  const res = await register(app, openIdBody(hs, 'good'));
  assert.equal(res.statusCode, 401);
  assert.match(res.json().error, /could not be reached$/);
  assert.doesNotMatch(res.json().error, /certificate|DEPTH_ZERO/, 'the TLS detail is for the log only');
  assert.equal(hs.requests.length, 0, 'no HTTP request over an untrusted connection');
});

test('accounts.allowedHomeservers limits who can register', async (t) => {
  const { app, hs } = await setup(t, { accounts: { allowedHomeservers: ['matrix.example.org'] } });
  hs.addOpenIdToken('good', `@alice:${hs.serverName}`);
  const refused = await register(app, openIdBody(hs, 'good'));
  assert.equal(refused.statusCode, 403);
  assert.equal(refused.json().errcode, 'M_FORBIDDEN');
  assert.equal(hs.requests.length, 0);

  const allowedApp = await testApp({ federation: federationConfig, accounts: { allowedHomeservers: ['matrix.example.org', hs.serverName] } });
  t.after(() => allowedApp.close());
  assert.equal((await register(allowedApp, openIdBody(hs, 'good'))).statusCode, 200);
});

test('logout revokes only the token used; a second token of the same user still works', async (t) => {
  const { app, hs } = await setup(t);
  hs.addOpenIdToken('first', `@alice:${hs.serverName}`);
  hs.addOpenIdToken('second', `@alice:${hs.serverName}`);
  const first = (await register(app, openIdBody(hs, 'first'))).json().token;
  const second = (await register(app, openIdBody(hs, 'second'))).json().token;
  assert.notEqual(first, second);

  // As js-sdk sends it: no body, no Content-Type.
  const logout = await app.inject({ method: 'POST', url: `${V2}/account/logout`, headers: bearer(first) });
  assert.equal(logout.statusCode, 200);
  assert.deepEqual(logout.json(), {});
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer(first) })).statusCode, 401);
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer(second) })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: `${V2}/account/logout`, headers: bearer(first) })).statusCode, 401);
});

test('logout with an unknown token: 401 M_UNKNOWN_TOKEN (v2_auth.yaml); without a token: 401 M_UNAUTHORIZED', async (t) => {
  const { app } = await setup(t);
  const unknown = await app.inject({ method: 'POST', url: `${V2}/account/logout`, headers: bearer('neverIssued') });
  assert.equal(unknown.statusCode, 401);
  assert.deepEqual(unknown.json(), { errcode: 'M_UNKNOWN_TOKEN', error: 'Unrecognised access token' });
  const missing = await app.inject({ method: 'POST', url: `${V2}/account/logout` });
  assert.equal(missing.statusCode, 401);
  assert.equal(missing.json().errcode, 'M_UNAUTHORIZED');
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer('neverIssued') })).json().errcode, 'M_UNAUTHORIZED', 'other routes: the general rule');
});

test('a user holds at most accounts.maxTokensPerUser tokens: a new one revokes the oldest', async (t) => {
  const { app } = await setup(t, { accounts: { maxTokensPerUser: 2 } });
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const tokens = [];
  for (let i = 0; i < 3; i++) {
    tokens.push(await app.accounts.issue('@alice:example.org'));
    mock.timers.tick(1000);
  }
  const other = await app.accounts.issue('@bob:example.org');
  const account = async (token: string) => (await app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer(token) })).statusCode;
  assert.deepEqual(await Promise.all(tokens.map(account)), [401, 200, 200]);
  assert.equal(await account(other), 200);
});

test('tokens expire after accounts.tokenLifetime', async (t) => {
  const { app, hs } = await setup(t, { accounts: { tokenLifetime: '1h' } });
  hs.addOpenIdToken('good', `@alice:${hs.serverName}`);
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const token = (await register(app, openIdBody(hs, 'good'))).json().token;
  const account = () => app.inject({ method: 'GET', url: `${V2}/account`, headers: bearer(token) });
  assert.equal((await account()).statusCode, 200);
  mock.timers.tick(59 * 60_000);
  assert.equal((await account()).statusCode, 200);
  mock.timers.tick(60_000);
  const expired = await account();
  assert.equal(expired.statusCode, 401);
  assert.equal(expired.json().errcode, 'M_UNAUTHORIZED');
  // The purge job then removes it; a token without expiry stays.
  const forever = await app.store.accounts.get(hashSecret(token));
  assert.ok(forever, 'refused, not yet purged');
  await app.store.accounts.put({ tokenHash: hashSecret('kept'), userId: '@bob:x', createdAt: Date.now(), expiresAt: null });
  mock.timers.tick(1000);
  assert.equal(await app.accounts.purgeExpired(), 1);
  assert.equal(await app.store.accounts.get(hashSecret(token)), null);
  assert.ok(await app.store.accounts.get(hashSecret('kept')));
});

test('register is v2 only', async (t) => {
  const { app, hs } = await setup(t);
  const res = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/account/register', payload: openIdBody(hs, 'x') });
  assert.equal(res.statusCode, 404);
  assert.equal(hs.requests.length, 0);
});
