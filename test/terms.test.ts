import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { testApp } from './helpers/app.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../core/store/sqlite/index.js';

const V2 = '/_matrix/identity/v2';

/** The seed's policy format, with two policies guarding different paths. */
function policies(tosVersion: string) {
  return {
    policy: {
      policies: {
        terms_of_service: {
          version: tosVersion,
          terms: {
            en: { name: 'Terms of Service', url: `https://id.example.test/tos-${tosVersion}-en.html` },
            fr: { name: "Conditions d'utilisation", url: `https://id.example.test/tos-${tosVersion}-fr.html` },
          },
          regexp: ['/_matrix/identity/v2/account.*', '/_matrix/identity/v2/hash_details'],
        },
        privacy: {
          version: '1.2',
          terms: { en: { name: 'Privacy Policy', url: 'https://id.example.test/privacy-1.2-en.html' } },
          regexp: ['/_matrix/identity/v2/account'],
        },
      },
    },
  };
}

test('without policies terms are disabled: GET /terms is empty and nothing is gated', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  assert.deepEqual((await app.inject({ method: 'GET', url: `${V2}/terms` })).json(), { policies: {} });
  const token = await app.accounts.issue('@alice:example.org');
  const account = await app.inject({ method: 'GET', url: `${V2}/account`, headers: { authorization: `Bearer ${token}` } });
  assert.equal(account.statusCode, 200);
  assert.deepEqual(account.json(), { user_id: '@alice:example.org' });
});

test('GET /terms lists policies in the spec shape, without auth', async (t) => {
  const app = await testApp(policies('2.0'));
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: `${V2}/terms` });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json().policies.terms_of_service, {
    version: '2.0',
    en: { name: 'Terms of Service', url: 'https://id.example.test/tos-2.0-en.html' },
    fr: { name: "Conditions d'utilisation", url: 'https://id.example.test/tos-2.0-fr.html' },
  });
  assert.equal(res.json().policies.privacy.version, '1.2');
});

test('the gate: not signed, partly signed, then fully signed; any language counts; acceptance accumulates', async (t) => {
  const app = await testApp(policies('2.0'));
  t.after(() => app.close());
  const token = await app.accounts.issue('@alice:example.org');
  const auth = { authorization: `Bearer ${token}` };

  const notSigned = await app.inject({ method: 'GET', url: `${V2}/account`, headers: auth });
  assert.equal(notSigned.statusCode, 403);
  assert.equal(notSigned.json().errcode, 'M_TERMS_NOT_SIGNED');
  assert.match(notSigned.headers['content-type'] as string, /^application\/json/);

  // POST /terms is never gated, and accepting the French URL accepts the policy.
  const accept = await app.inject({ method: 'POST', url: `${V2}/terms`, headers: auth, payload: { user_accepts: ['https://id.example.test/tos-2.0-fr.html'] } });
  assert.equal(accept.statusCode, 200);
  assert.deepEqual(accept.json(), {});

  const partly = await app.inject({ method: 'GET', url: `${V2}/account`, headers: auth });
  assert.equal(partly.statusCode, 403, 'privacy policy still guards /account');
  // /account/logout is guarded by terms_of_service only, which is now accepted
  await app.inject({ method: 'POST', url: `${V2}/terms`, headers: auth, payload: { user_accepts: ['https://id.example.test/privacy-1.2-en.html'] } });
  const signed = await app.inject({ method: 'GET', url: `${V2}/account`, headers: auth });
  assert.equal(signed.statusCode, 200);
  assert.deepEqual(await app.store.terms.accepted('@alice:example.org'), [
    { policy: 'privacy', version: '1.2' }, { policy: 'terms_of_service', version: '2.0' },
  ]);
});

test('unknown URLs accept nothing; auth is checked before terms', async (t) => {
  const app = await testApp(policies('2.0'));
  t.after(() => app.close());
  const token = await app.accounts.issue('@bob:example.org');
  await app.inject({ method: 'POST', url: `${V2}/terms`, headers: { authorization: `Bearer ${token}` }, payload: { user_accepts: ['https://elsewhere.test/tos.html'] } });
  assert.deepEqual(await app.store.terms.accepted('@bob:example.org'), []);
  const noToken = await app.inject({ method: 'GET', url: `${V2}/account` });
  assert.equal(noToken.statusCode, 401);
  assert.equal(noToken.json().errcode, 'M_UNAUTHORIZED');
  const badToken = await app.inject({ method: 'GET', url: `${V2}/account`, headers: { authorization: 'Bearer nope' } });
  assert.equal(badToken.statusCode, 401);
  const postNoToken = await app.inject({ method: 'POST', url: `${V2}/terms`, payload: { user_accepts: [] } });
  assert.equal(postNoToken.statusCode, 401);
});

test('a version bump asks again; logout does not wipe acceptance', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-terms-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const openStore = () => openSqliteStore(join(dir, 'unisd.db'));

  const before = await testApp(policies('2.0'), { store: await openStore() });
  const token = await before.accounts.issue('@carol:example.org');
  const auth = { authorization: `Bearer ${token}` };
  await before.inject({
    method: 'POST', url: `${V2}/terms`, headers: auth,
    payload: { user_accepts: ['https://id.example.test/tos-2.0-en.html', 'https://id.example.test/privacy-1.2-en.html'] },
  });
  assert.equal((await before.inject({ method: 'GET', url: `${V2}/account`, headers: auth })).statusCode, 200);
  assert.equal((await before.inject({ method: 'POST', url: `${V2}/account/logout`, headers: auth })).statusCode, 200);
  assert.equal((await before.inject({ method: 'GET', url: `${V2}/account`, headers: auth })).statusCode, 401, 'the token is revoked');
  const second = await before.accounts.issue('@carol:example.org');
  assert.equal((await before.inject({ method: 'GET', url: `${V2}/account`, headers: { authorization: `Bearer ${second}` } })).statusCode, 200);
  await before.close();

  // The operator bumps the terms version and restarts on the same database.
  const after = await testApp(policies('3.0'), { store: await openStore() });
  t.after(() => after.close());
  const bumped = await after.inject({ method: 'GET', url: `${V2}/account`, headers: { authorization: `Bearer ${second}` } });
  assert.equal(bumped.statusCode, 403);
  assert.equal(bumped.json().errcode, 'M_TERMS_NOT_SIGNED');
  await after.inject({ method: 'POST', url: `${V2}/terms`, headers: { authorization: `Bearer ${second}` }, payload: { user_accepts: ['https://id.example.test/tos-3.0-fr.html'] } });
  assert.equal((await after.inject({ method: 'GET', url: `${V2}/account`, headers: { authorization: `Bearer ${second}` } })).statusCode, 200);
});

test('the gate matches the real request path, not the route template', async (t) => {
  const app = await testApp({
    policy: { policies: { keys: { version: '1', terms: { en: { name: 'Keys', url: 'https://id.example.test/keys.html' } }, regexp: ['/_matrix/identity/v2/account/logout'] } } },
  });
  t.after(() => app.close());
  const token = await app.accounts.issue('@dave:example.org');
  const auth = { authorization: `Bearer ${token}` };
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account`, headers: auth })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: `${V2}/account/logout`, headers: auth })).statusCode, 403);
  // Synapse sends the token in the query string on some routes: it is accepted there too.
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/account?access_token=${token}` })).statusCode, 200);
});

test('the gate sees the path the router matched: percent-encoded spellings of a guarded path are gated too', async (t) => {
  const app = await testApp(policies('2.0'));
  t.after(() => app.close());
  const auth = { authorization: `Bearer ${await app.accounts.issue('@erin:example.org')}` };
  for (const url of [`${V2}/acc%6Funt`, `${V2}/%61ccount`, `${V2}/account/log%6Fut`]) {
    const method = url.endsWith('ut') ? 'POST' : 'GET';
    const res = await app.inject({ method, url, headers: auth });
    assert.equal(res.statusCode, 403, url);
    assert.equal(res.json().errcode, 'M_TERMS_NOT_SIGNED', url);
  }
  // Once accepted, the same spellings reach the route.
  await app.inject({ method: 'POST', url: `${V2}/terms`, headers: auth, payload: { user_accepts: ['https://id.example.test/tos-2.0-en.html', 'https://id.example.test/privacy-1.2-en.html'] } });
  assert.equal((await app.inject({ method: 'GET', url: `${V2}/acc%6Funt`, headers: auth })).statusCode, 200);

  // Route parameters are seen decoded, in place.
  const things = await testApp({
    policy: { policies: { secret: { version: '1', terms: { en: { name: 'S', url: 'https://id.example.test/s.html' } }, regexp: ['/_matrix/identity/v2/things/secret:1'] } } },
  }, { extra: [async (api) => { api.identityApi.add({ method: 'GET', url: '/things/:id', apis: ['v2'], handler: async () => ({}) }); }] });
  t.after(() => things.close());
  const thingsAuth = { authorization: `Bearer ${await things.accounts.issue('@erin:example.org')}` };
  assert.equal((await things.inject({ method: 'GET', url: `${V2}/things/s%65cret%3A1`, headers: thingsAuth })).statusCode, 403);
  assert.equal((await things.inject({ method: 'GET', url: `${V2}/things/public`, headers: thingsAuth })).statusCode, 200);
});

test('the errors Element must read in a browser carry the CORS header: 401, 403 M_TERMS_NOT_SIGNED, 404, 405', async (t) => {
  const app = await testApp(policies('2.0'));
  t.after(() => app.close());
  const origin = { origin: 'https://app.element.io' };
  const token = await app.accounts.issue('@frank:example.org');
  const cases: Array<[number, string, InjectOptions]> = [
    [401, 'M_UNAUTHORIZED', { method: 'GET', url: `${V2}/account`, headers: origin }],
    [403, 'M_TERMS_NOT_SIGNED', { method: 'GET', url: `${V2}/account`, headers: { ...origin, authorization: `Bearer ${token}` } }],
    [404, 'M_UNRECOGNIZED', { method: 'GET', url: `${V2}/nothing-here`, headers: origin }],
    [405, 'M_UNRECOGNIZED', { method: 'DELETE', url: `${V2}/account`, headers: origin }],
  ];
  for (const [status, errcode, request] of cases) {
    const res = await app.inject(request);
    assert.equal(res.statusCode, status, errcode);
    assert.equal(res.json().errcode, errcode);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['access-control-allow-origin'], '*', `${status} ${errcode}`);
  }
});
