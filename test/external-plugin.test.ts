/**
 * External plugins (plugins.modules): the example of docs/plugins.md
 * (docs/examples/external-provider) is copied to a folder outside the repository, loaded by
 * path, configured through its own section, and serves v1 lookups; bad modules and manifests
 * stop the start with one line naming them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig, loadConfiguration } from '../core/config/load.js';
import { buildApp } from '../core/app.js';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { PluginError } from '../core/plugin/loader.js';

const root = resolve(import.meta.dirname, '..');
const outside = mkdtempSync(join(tmpdir(), 'unisd-external-'));
after(() => rmSync(outside, { recursive: true, force: true }));

const example = join(outside, 'csv-directory');
cpSync(join(root, 'docs/examples/external-provider'), example, { recursive: true });
const csv = join(outside, 'people.csv');
writeFileSync(csv, 'email,alice@example.org,@alice:example.org\nmsisdn,15551234567,@bob:example.org\n');

let files = 0;
function yamlFile(text: string): string {
  const path = join(outside, `config-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

const BASE = `server:\n  name: id.example.test\nlogging:\n  level: silent\nstorage:\n  sqlite:\n    path: ":memory:"\n`;
const withExample = (section: string) => `${BASE}plugins:\n  modules: ["${join(example, 'manifest.ts')}"]\n${section}`;

test('the example plugin, loaded by path from outside the repository, serves v1 lookup and bulk_lookup', async (t) => {
  const { config, plugins } = await loadConfiguration({ file: yamlFile(withExample(`csvDirectory:\n  enabled: true\n  file: "${csv}"\n`)), env: {} });
  assert.ok(plugins.some((plugin) => plugin.name === 'csv-directory'));
  const app = await buildApp(config, { plugins, store: await openSqliteStore(':memory:'), signingKey: generateSigningKey(), logger: false });
  t.after(() => app.close());
  assert.ok(app.hasPlugin('unisd-csv-directory'));

  const single = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=Alice@Example.org' });
  assert.equal(single.statusCode, 200);
  assert.equal(single.json().mxid, '@alice:example.org');
  assert.equal(single.json().address, 'alice@example.org');
  assert.ok(single.json().signatures['id.example.test'], 'signed by this server');

  const bulk = await app.inject({
    method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup',
    payload: { threepids: [['email', 'alice@example.org'], ['msisdn', '15551234567'], ['email', 'nobody@example.org']] },
  });
  assert.equal(bulk.statusCode, 200);
  assert.deepEqual(bulk.json(), { threepids: [['email', 'alice@example.org', '@alice:example.org'], ['msisdn', '15551234567', '@bob:example.org']] });
});

test('a unisd process started with the example plugin in plugins.modules answers a v1 lookup through it over HTTP', async (t) => {
  const config = yamlFile(withExample(`csvDirectory:\n  enabled: true\n  file: "${csv}"\n`)
    .replace('level: silent', 'level: info').replace('name: id.example.test', 'name: id.example.test\n  port: 0')
    .replace('path: ":memory:"', `path: "${join(outside, 'process.db')}"\nkeys:\n  path: "${join(outside, 'signing.key')}"`));
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', 'start', '-c', config], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  t.after(async () => { child.kill('SIGTERM'); await exited; });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  let base: string | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
    if (base) break;
  }
  assert.ok(base, `unisd listens (stderr: ${stderr})`);
  const res = await fetch(`${base}/_matrix/identity/api/v1/lookup?medium=msisdn&address=15551234567`);
  assert.equal(res.status, 200);
  assert.equal((await res.json() as { mxid: string }).mxid, '@bob:example.org');
});

test('the example plugin\'s own test passes from outside the repository', async () => {
  await import(join(example, 'provider.test.ts'));
});

test('an external section is validated like the core\'s: unknown keys, formats, environment variables', async () => {
  const unknown = yamlFile(withExample('csvDirectory:\n  enabled: true\n  fiel: x.csv\n'));
  await assert.rejects(loadConfiguration({ file: unknown, env: {} }),
    (err: Error) => err instanceof ConfigError && err.message === `config error in ${unknown} line 12: csvDirectory.fiel: unknown key, expected one of enabled, file, priority`);
  const badType = yamlFile(withExample('csvDirectory:\n  priority: first\n'));
  await assert.rejects(loadConfiguration({ file: badType, env: {} }), /line 11: csvDirectory\.priority: expected a whole number \(0 or more\), got "first"$/);

  const fromEnv = await loadConfiguration({ file: yamlFile(withExample('')), env: { UNISD_CSV_DIRECTORY_PRIORITY: '7' } });
  assert.equal((fromEnv.config as unknown as { csvDirectory: { priority: number; enabled: boolean } }).csvDirectory.priority, 7);
  await assert.rejects(loadConfiguration({ file: yamlFile(withExample('')), env: { UNISD_CSV_DIRECTORY_FIEL: 'x' } }), /environment variable UNISD_CSV_DIRECTORY_FIEL is not a configuration key/);

  const viaEnv = await loadConfiguration({ file: yamlFile(`${BASE}csvDirectory:\n  enabled: false\n`), env: { UNISD_PLUGINS_MODULES: join(example, 'manifest.ts') } });
  assert.ok(viaEnv.plugins.some((plugin) => plugin.name === 'csv-directory'), 'UNISD_PLUGINS_MODULES names modules too');
  assert.throws(() => loadConfig({ file: yamlFile(`${BASE}csvDirectory:\n  enabled: true\n`), env: {} }), /csvDirectory: unknown key/, 'without the module, its section is unknown');
});

/** A module folder outside the repository whose manifest.ts is `source`. */
function moduleWith(name: string, source: string): string {
  const folder = join(outside, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'manifest.ts'), source);
  writeFileSync(join(folder, 'index.ts'), 'export default async function plugin() {}\n');
  return join(folder, 'manifest.ts');
}
/** What tsc emits for the example's manifest when its folder has no "type": "module". */
function commonJsModule(): string {
  const folder = join(outside, 'commonjs');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'manifest.cjs'), 'exports.default = { name: "commonjs", description: "test", enabled: () => true, plugin: () => Promise.resolve().then(() => require("./index.cjs")) };\n');
  return join(folder, 'manifest.cjs');
}
const manifestSource = (fields: string) => `export default { description: 'test', enabled: () => true, plugin: () => import('./index.js'), ${fields} };\n`;
const section = '{ enabled: { doc: "Turn it on.", format: "boolean", default: false } }';

const BAD_MODULES: Array<[string, () => string, RegExp]> = [
  ['a path that does not exist', () => join(outside, 'missing/manifest.ts'), /^plugin error: plugins\.modules: cannot load .*missing\/manifest\.ts: /],
  ['a package that is not installed', () => 'unisd-plugin-that-is-not-installed', /^plugin error: plugins\.modules: cannot load unisd-plugin-that-is-not-installed: /],
  ['a module that throws', () => moduleWith('throws', 'throw new Error("broken at load");\n'), /cannot load .*throws\/manifest\.ts: broken at load$/],
  ['no manifest as default export', () => moduleWith('no-default', 'export const name = "x";\n'), /^plugin error: plugins\.modules .*no-default\/manifest\.ts: its default export is not a plugin manifest/],
  ['a CommonJS module (compiled without "type": "module")', commonJsModule, /commonjs\/manifest\.cjs: it is a CommonJS module \(its manifest is exports\.default\): compile it as an ES module \("type": "module" in its package\.json\)$/],
  ['a manifest without a name', () => moduleWith('no-name', manifestSource('')), /no-name\/manifest\.ts: manifest name: expected a short name/],
  ['a name a built-in plugin has', () => moduleWith('duplicate', manifestSource('name: "lookup"')), /^plugin error: two plugins are named lookup$/],
  ['a section the core owns', () => moduleWith('core-clash', manifestSource(`name: "clash-core", config: { server: ${section} }`)), /^plugin error: plugin clash-core declares config section server, which the core owns$/],
  ['a section a plugin owns', () => moduleWith('plugin-clash', manifestSource(`name: "clash-plugin", config: { memory: ${section} }`)), /^plugin error: plugin clash-plugin declares config section memory, which plugin memory-provider owns$/],
  ['a key without a doc', () => moduleWith('no-doc', manifestSource('name: "no-doc", config: { nodoc: { x: { format: "boolean", default: false } } }')), /manifest no-doc: config nodoc\.x: a key needs a doc$/],
  ['an unknown dependency', () => moduleWith('bad-dependency', manifestSource('name: "needs-ghost", dependencies: ["ghost"]')), /^plugin error: plugin needs-ghost depends on ghost, which is no known plugin$/],
];

for (const [name, module, pattern] of BAD_MODULES) {
  test(`plugins.modules: ${name} stops the start with one line naming it`, async () => {
    const file = yamlFile(`${BASE}plugins:\n  modules: ["${module()}"]\n`);
    await assert.rejects(loadConfiguration({ file, env: {} }), (err: Error) => {
      assert.ok(err instanceof PluginError, String(err));
      assert.ok(!err.message.includes('\n'), err.message);
      assert.match(err.message, pattern);
      return true;
    });
  });
}

test('unisd config check and config keys -c include the external plugin\'s section', async () => {
  const file = yamlFile(withExample(`csvDirectory:\n  file: "${csv}"\n`));
  const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('UNISD_')));
    execFile(process.execPath, ['--import', 'tsx', 'core/cli.ts', ...args], { cwd: root, env }, (err, stdout, stderr) => done({ code: err ? 1 : 0, stdout, stderr }));
  });
  const check = await run(['config', 'check', '-c', file]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /csvDirectory:\n {2}enabled: false\n {2}file: .*people\.csv\n {2}priority: 50\n/);
  const keys = await run(['config', 'keys', '-c', file]);
  assert.match(keys.stdout, /\| `csvDirectory\.file` \| `UNISD_CSV_DIRECTORY_FILE` \|/);
});
