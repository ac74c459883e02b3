import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { Readiness, CHECK_TIMEOUT_MS } from '../core/readiness.js';

const TERMS = { policy: { policies: { tos: { version: '1', terms: { en: { name: 'Terms', url: 'https://id.example.test/tos' } } } } } };

async function app(t: { after: (fn: () => Promise<void>) => void }, extra: Array<(app: FastifyInstance) => Promise<void>> = []): Promise<FastifyInstance> {
  const server = await testApp(TERMS, { extra });
  t.after(() => server.close());
  return server;
}

test('/_unisd/health answers 200 alive without a token, with terms configured and unsigned', async (t) => {
  const server = await app(t);
  const res = await server.inject('/_unisd/health');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'alive' });
  assert.equal(res.headers['cache-control'], 'no-store');
});

test('/_unisd/ready answers 200 ready when the store answers, without a token or signed terms', async (t) => {
  const server = await app(t);
  const res = await server.inject('/_unisd/ready');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ready' });
});

test('/_unisd/ready answers 503 naming the store when it is closed; /_unisd/health still answers alive', async (t) => {
  const server = await app(t);
  await server.store.close();
  const res = await server.inject('/_unisd/ready');
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json(), { status: 'not ready', failing: [{ check: 'store', reason: 'store unreachable' }] });
  assert.equal((await server.inject('/_unisd/health')).statusCode, 200);
});

test('a plugin\'s readiness check is asked: its reason is answered, a thrown error only as "check failed" (its message is logged, never answered)', async (t) => {
  let indexLoaded = false;
  const server = await app(t, [async (s) => {
    s.readiness.add('index', async () => (indexLoaded ? null : 'hash index not loaded'));
    s.readiness.add('directory', async () => { throw new Error('ldap://admin:hunter2@10.0.0.5 refused'); });
  }]);
  const res = await server.inject('/_unisd/ready');
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json().failing, [{ check: 'index', reason: 'hash index not loaded' }, { check: 'directory', reason: 'check failed' }]);
  assert.doesNotMatch(res.body, /hunter2|10\.0\.0\.5/);
  indexLoaded = true;
  assert.deepEqual((await server.inject('/_unisd/ready')).json().failing, [{ check: 'directory', reason: 'check failed' }]);
});

test('readiness: a check that does not answer fails after CHECK_TIMEOUT_MS; probes arriving meanwhile share one run', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let runs = 0;
  const readiness = new Readiness(() => {});
  readiness.add('hanging', () => { runs++; return new Promise(() => {}); });
  const first = readiness.evaluate();
  const second = readiness.evaluate();
  t.mock.timers.tick(CHECK_TIMEOUT_MS);
  assert.deepEqual(await first, { ready: false, failing: [{ check: 'hanging', reason: 'no answer in time' }] });
  assert.equal(await second, await first);
  assert.equal(runs, 1);
});

test('readiness: a check added twice is refused', () => {
  const readiness = new Readiness(() => {});
  readiness.add('store', async () => null);
  assert.throws(() => readiness.add('store', async () => null), /added twice/);
});
