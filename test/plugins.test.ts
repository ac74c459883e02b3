import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { testApp, testConfig } from './helpers/app.js';
import { buildApp } from '../core/app.js';
import { BUILTIN_PLUGINS } from '../core/plugins.js';
import { definePlugin, type PluginManifest } from '../core/plugin/manifest.js';
import { checkPlugins, pluginOrder } from '../core/plugin/loader.js';
import { describeStartupError } from '../core/server.js';
import { openSqliteStore } from '../core/store/sqlite/index.js';
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

/** A test plugin `name` that decorates `loaded_<name>`. */
function manifest(name: string, enabled: PluginManifest['enabled'], dependencies: string[] = []): PluginManifest {
  const plugin = async (app: FastifyInstance) => { app.decorate(`loaded_${name}`, true); };
  return definePlugin({ name, description: `test plugin ${name}`, enabled, dependencies, plugin: async () => ({ default: plugin }) });
}

async function build(plugins: PluginManifest[], overrides: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const store = await openSqliteStore(':memory:');
  const app = await buildApp(testConfig(overrides), { store, signingKey: generateSigningKey(), logger: false, plugins });
  await app.ready();
  return app;
}

test('a plugin whose dependency is disabled by config fails at start with one line naming both; enabled, both load', async () => {
  const plugins = [manifest('dependent', () => true, ['base']), manifest('base', (c) => c.memory.enabled)];
  const error = await build(plugins).then(() => null, (err: unknown) => err);
  assert.ok(error, 'the start fails');
  assert.equal(describeStartupError(error), 'plugin error: unisd-dependent needs plugin unisd-base, which is not loaded (is it enabled in the configuration?)');
  const app = await build(plugins, memory);
  assert.equal((app as unknown as Record<string, unknown>).loaded_dependent, true);
  await app.close();
});

test('a plugin needing a decorator nobody provides fails in one line', async () => {
  const plugin = fp(async () => {}, { decorators: { fastify: ['mailer'] } });
  const wants = definePlugin({ name: 'wants-mailer', description: 'test', enabled: () => true, plugin: async () => ({ default: plugin }) });
  const error = await build([wants]).then(() => null, (err: unknown) => err);
  assert.equal(describeStartupError(error), 'plugin error: unisd-wants-mailer needs app.mailer, which no loaded plugin provides');
});

test('an enabled plugin whose module fails to import, or exports no function, stops the start in one line naming it', async () => {
  const broken = definePlugin({ name: 'broken', description: 'test', enabled: () => true, plugin: async () => { throw new Error('SyntaxError in index.js\n    at somewhere'); } });
  const error = await build([broken]).then(() => null, (err: unknown) => err);
  assert.equal(describeStartupError(error), 'plugin error: broken: cannot load its plugin: SyntaxError in index.js');
  const empty = definePlugin({ name: 'empty', description: 'test', enabled: () => true, plugin: async () => ({}) as never });
  assert.equal(describeStartupError(await build([empty]).then(() => null, (err: unknown) => err)), 'plugin error: empty: its plugin module has no default export function');
  const disabled = definePlugin({ ...broken, enabled: () => false });
  await (await build([disabled])).close();
});

test('registration order: each plugin after its dependencies, otherwise in list order', () => {
  const order = pluginOrder([
    manifest('a', () => true, ['c']), manifest('b', () => true), manifest('c', () => true, ['d']), manifest('d', () => true), manifest('e', () => true, ['b']),
  ]).map((p) => p.name);
  assert.deepEqual(order, ['d', 'c', 'a', 'b', 'e']);
  assert.throws(() => pluginOrder([manifest('x', () => true, ['y']), manifest('y', () => true, ['x'])]), /^PluginError: plugin error: dependency cycle: x → y → x$/);
});

test('bad manifest sets are refused in one line naming the plugin', () => {
  const core = ['server', 'matrix'];
  const fails = (plugins: PluginManifest[], message: string) => assert.throws(() => checkPlugins(plugins, core), (err: Error) => err.message === message);
  fails([manifest('a', () => true), manifest('a', () => true)], 'plugin error: two plugins are named a');
  fails([manifest('a', () => true, ['nothere'])], 'plugin error: plugin a depends on nothere, which is no known plugin');
  const section = { enabled: { doc: 'Turn it on.', format: 'boolean', default: false } };
  fails([{ ...manifest('a', () => true), config: { matrix: section } }], 'plugin error: plugin a declares config section matrix, which the core owns');
  fails([{ ...manifest('a', () => true), config: { x: section } }, { ...manifest('b', () => true), config: { x: section } }], 'plugin error: plugin b declares config section x, which plugin a owns');
});

test('identity routes added by a plugin registered after v1 and v2 are mounted on both', async (t) => {
  const late = definePlugin({
    name: 'late', description: 'test', enabled: () => true, dependencies: ['v1', 'v2'],
    plugin: async () => ({ default: async (app: FastifyInstance) => { app.identityApi.add({ method: 'GET', url: '/late', auth: 'none', handler: async () => ({ late: true }) }); } }),
  });
  const app = await build([...BUILTIN_PLUGINS, late]);
  t.after(() => app.close());
  for (const prefix of [API_PREFIX.v1, API_PREFIX.v2]) {
    const res = await app.inject({ method: 'GET', url: `${prefix}/late` });
    assert.equal(res.statusCode, 200, prefix);
    assert.deepEqual(res.json(), { late: true });
  }
  assert.throws(() => app.identityApi.add({ method: 'GET', url: '/too-late', handler: async () => ({}) }), /only be added while plugins load/);
});

test('the built-in plugins: unique names, known dependencies, each module exports a plugin function', async () => {
  checkPlugins(BUILTIN_PLUGINS, ['server']);
  for (const plugin of BUILTIN_PLUGINS) {
    assert.equal(typeof (await plugin.plugin()).default, 'function', plugin.name);
  }
  const app = await testApp();
  after(() => app.close());
  // The default configuration enables all but metrics, the providers and the unified-view hub: those are registered, the others not.
  for (const plugin of BUILTIN_PLUGINS) {
    assert.equal(app.hasPlugin(`unisd-${plugin.name}`), plugin.enabled(app.config), `unisd-${plugin.name} is registered under its name when enabled`);
  }
  assert.deepEqual(BUILTIN_PLUGINS.filter((p) => !p.enabled(app.config)).map((p) => p.name), ['metrics', 'memory-provider', 'sql', 'synapse-sql', 'ldap', 'unified-view', 'exec', 'rest', 'unified-view-push']);
});
