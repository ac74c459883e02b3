import { test } from 'node:test';
import assert from 'node:assert/strict';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { testApp, testConfig } from './helpers/app.js';
import { buildApp } from '../core/app.js';
import { PLUGINS, type PluginEntry } from '../core/plugins.js';
import { describeStartupError } from '../core/server.js';
import { SqliteStore } from '../core/store/sqlite.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { API_PREFIX } from '../core/api.js';
import type { ApiVersion } from '../core/api.js';

const memory = {
  memory: { enabled: true, identities: [{ username: 'alice', threepids: [{ medium: 'email', address: 'Alice@Example.org' }] }] },
  matrix: { domain: 'example.org' },
};

test('memory provider: enabled by config, it is in app.providers and answers lookups', async (t) => {
  const app = await testApp(memory);
  t.after(() => app.close());
  assert.ok(app.providers.list().some((p) => p.name === 'memory'));
  assert.deepEqual(await app.providers.lookup({ medium: 'email', address: 'alice@example.org' }), { medium: 'email', address: 'alice@example.org', mxid: '@alice:example.org', provider: 'memory' });
});

test('memory provider: disabled (the default), no provider is registered', async (t) => {
  const app = await testApp({ ...memory, memory: { ...memory.memory, enabled: false } });
  t.after(() => app.close());
  assert.ok(!app.providers.list().some((p) => p.name === 'memory'));
  assert.equal(await app.providers.lookup({ medium: 'email', address: 'alice@example.org' }), null);
});

/** Every URL the API serves under `api`: its ping and each identity route, parameters filled in. */
function apiRequests(app: FastifyInstance, api: ApiVersion): Array<{ method: 'GET' | 'POST'; url: string }> {
  const prefix = API_PREFIX[api];
  return [
    { method: 'GET', url: prefix },
    ...app.identityApi.for(api).map((route) => ({ method: route.method, url: prefix + route.url.replace(/:\w+/g, 'x') })),
  ];
}

const unrecognized = (res: { statusCode: number; json: () => any }) => res.statusCode === 404 && res.json().errcode === 'M_UNRECOGNIZED';

for (const [api, other] of [['v1', 'v2'], ['v2', 'v1']] as const) {
  test(`matrix.${api}: false answers 404 M_UNRECOGNIZED on every ${api} route, ${other} still served`, async (t) => {
    const on = await testApp();
    t.after(() => on.close());
    const requests = apiRequests(on, api);
    assert.ok(requests.length > 5, `${api} has routes to check`);
    for (const request of requests) {
      assert.ok(!unrecognized(await on.inject({ ...request, payload: request.method === 'POST' ? {} : undefined })), `${request.method} ${request.url} is served when on`);
    }

    const off = await testApp({ matrix: { [api]: false } });
    t.after(() => off.close());
    for (const request of requests) {
      const res = await off.inject({ ...request, payload: request.method === 'POST' ? {} : undefined });
      assert.equal(res.statusCode, 404, `${request.method} ${request.url}`);
      assert.equal(res.json().errcode, 'M_UNRECOGNIZED', `${request.method} ${request.url}`);
    }
    const otherPing = await off.inject({ method: 'GET', url: API_PREFIX[other] });
    assert.equal(otherPing.statusCode, 200);
    assert.deepEqual(otherPing.json(), {});
  });
}

/** A plugin table entry for a test plugin named unisd-<name>. */
function entry(name: string, enabled: PluginEntry['enabled'], dependencies: string[] = []): PluginEntry {
  const plugin = fp(async (app: FastifyInstance) => { app.decorate(`loaded_${name}`, true); }, { name: `unisd-${name}`, dependencies });
  return { name, enabled, load: async () => ({ default: plugin }) };
}

async function build(plugins: PluginEntry[], overrides: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const store = new SqliteStore(':memory:');
  await store.init();
  const app = await buildApp(testConfig(overrides), { store, signingKey: generateSigningKey(), logger: false, plugins });
  await app.ready();
  return app;
}

test('a plugin whose dependency is not registered fails at start with one line naming both', async () => {
  const error = await build([entry('needy', () => true, ['unisd-absent'])]).then(() => null, (err: unknown) => err);
  assert.ok(error, 'the start fails');
  assert.equal(describeStartupError(error), 'plugin error: unisd-needy needs plugin unisd-absent, which is not loaded (is it enabled in the configuration?)');
});

test('a dependency disabled by config fails the plugin that needs it; enabled, both load', async () => {
  const table = (c: { memory: { enabled: boolean } }) => c.memory.enabled;
  const plugins = [entry('base', table), entry('dependent', () => true, ['unisd-base'])];
  const error = await build(plugins).then(() => null, (err: unknown) => err);
  assert.match(describeStartupError(error), /^plugin error: unisd-dependent needs plugin unisd-base, which is not loaded/);
  const app = await build(plugins, memory);
  assert.equal((app as unknown as Record<string, unknown>).loaded_dependent, true);
  await app.close();
});

test('a plugin needing a decorator nobody provides fails in one line', async () => {
  const plugin = fp(async () => {}, { name: 'unisd-wants-mailer', decorators: { fastify: ['mailer'] } });
  const error = await build([{ name: 'wants-mailer', enabled: () => true, load: async () => ({ default: plugin }) }]).then(() => null, (err: unknown) => err);
  assert.equal(describeStartupError(error), 'plugin error: unisd-wants-mailer needs app.mailer, which no loaded plugin provides');
});

test('the plugin table: unique names, each module is a fastify-plugin named unisd-<name>, v1 and v2 last', async () => {
  const names = PLUGINS.map((p) => p.name);
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(names.slice(-2), ['v1', 'v2']);
  for (const plugin of PLUGINS) {
    const loaded = (await plugin.load()).default as unknown as Record<symbol, { name?: string }>;
    assert.equal(loaded[Symbol.for('plugin-meta')]?.name, `unisd-${plugin.name}`, plugin.name);
  }
});
