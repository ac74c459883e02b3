import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { testApp } from './helpers/app.js';
import { SPEC_VERSIONS } from '../core/http/versions.js';

test('versions and ping answer JSON with CORS headers', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const versions = await app.inject({ method: 'GET', url: '/_matrix/identity/versions', headers: { origin: 'https://app.element.io' } });
  assert.equal(versions.statusCode, 200);
  assert.match(versions.headers['content-type'] as string, /^application\/json/);
  assert.equal(versions.headers['access-control-allow-origin'], '*');
  assert.ok(Array.isArray(versions.json().versions));
  assert.deepEqual((await app.inject({ method: 'GET', url: '/_matrix/identity/v2' })).json(), {});
});

/** The versions whose every required endpoint the router has, asked route by route (app.hasRoute). */
const routedVersions = (app: FastifyInstance) => SPEC_VERSIONS
  .filter(({ requires }) => requires.every((required) => {
    const [method, url] = required.split(' ') as [HTTPMethods, string];
    return app.hasRoute({ method, url: url.replace(/\{(\w+)\}/g, ':$1') });
  }))
  .map(({ version }) => version);

test('versions: all, with hash lookup mounted (the default); none with hashing.enabled false, since r0.3.0 requires it', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const { versions } = (await app.inject({ method: 'GET', url: '/_matrix/identity/versions' })).json();
  assert.deepEqual(versions, SPEC_VERSIONS.map(({ version }) => version));
  assert.deepEqual(versions, routedVersions(app));
  assert.ok(versions.includes('r0.3.0') && versions.includes('v1.1'));

  const noHashing = await testApp({ hashing: { enabled: false } });
  t.after(() => noHashing.close());
  assert.deepEqual((await noHashing.inject({ method: 'GET', url: '/_matrix/identity/versions' })).json().versions, []);
  assert.deepEqual(routedVersions(noHashing), []);
  assert.equal(noHashing.hasRoute({ method: 'GET', url: '/_matrix/identity/v2/hash_details' }), false);
});

test('versions: a switched-off v2 makes them all disappear', async (t) => {
  const v1Only = await testApp({ matrix: { v2: false } });
  t.after(() => v1Only.close());
  assert.deepEqual((await v1Only.inject({ method: 'GET', url: '/_matrix/identity/versions' })).json().versions, []);
});

test('unknown path is 404 M_UNRECOGNIZED, wrong method 405 M_UNRECOGNIZED', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const missing = await app.inject({ method: 'GET', url: '/_matrix/identity/v2/nothing-here' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().errcode, 'M_UNRECOGNIZED');
  assert.match(missing.headers['content-type'] as string, /^application\/json/);
  const head = await app.inject({ method: 'HEAD', url: '/_matrix/identity/v2/validate/email/submitToken?sid=a&client_secret=b&token=c' });
  assert.equal(head.statusCode, 405, 'no implicit HEAD routes: a link checker must not validate a session');
  const wrong = await app.inject({ method: 'DELETE', url: '/_matrix/identity/v2/terms' });
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.json().errcode, 'M_UNRECOGNIZED');
});

test('bad JSON is 400 M_NOT_JSON, an oversized body 413', async (t) => {
  const app = await testApp({ server: { bodyLimit: 1024 } });
  t.after(() => app.close());
  const token = await app.accounts.issue('@alice:example.org');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const bad = await app.inject({ method: 'POST', url: '/_matrix/identity/v2/terms', headers, payload: '{"user_accepts": [' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().errcode, 'M_NOT_JSON');
  const big = await app.inject({ method: 'POST', url: '/_matrix/identity/v2/terms', headers, payload: JSON.stringify({ user_accepts: ['x'.repeat(2048)] }) });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().errcode, 'M_TOO_LARGE');
  const notObject = await app.inject({ method: 'POST', url: '/_matrix/identity/v2/terms', headers, payload: '[1]' });
  assert.equal(notObject.statusCode, 400);
  assert.equal(notObject.json().errcode, 'M_BAD_JSON');
});

test('OPTIONS preflight answers CORS headers on any identity route', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const res = await app.inject({ method: 'OPTIONS', url: '/_matrix/identity/v2/account/register', headers: { origin: 'https://app.element.io', 'access-control-request-method': 'POST' } });
  assert.ok(res.statusCode >= 200 && res.statusCode < 300);
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.match(String(res.headers['access-control-allow-headers']), /Authorization/);
  assert.match(String(res.headers['access-control-allow-methods']), /POST/);
});
