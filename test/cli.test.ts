import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig, schemaKeys, MASK } from '../core/config/load.js';
import { secretSample } from './helpers/secret-samples.js';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'unisd-cli-'));

/** Runs `unisd <args>` from the sources, with only the given UNISD_* variables. */
function unisd(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'core/cli.ts', ...args], { cwd: root, env: { ...base, ...env } }, (err, stdout, stderr) => {
      done({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr });
    });
  });
}

function assertOneLineError(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 1);
  const lines = result.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0], /^unisd: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

test('--help lists the commands', async () => {
  for (const flag of ['--help', '-h', 'help']) {
    const { code, stdout } = await unisd([flag]);
    assert.equal(code, 0);
    for (const command of ['unisd [start]', 'unisd config check', 'unisd config keys', '-c, --config']) assert.ok(stdout.includes(command), `${flag}: ${command}`);
  }
});

test('--version prints the version of package.json', async () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const { code, stdout } = await unisd([flag]);
    assert.equal(code, 0);
    assert.equal(stdout, `unisd ${version}\n`);
  }
});

test('config check prints the effective configuration as YAML with every secret masked', async () => {
  const file = join(dir, 'secrets.yaml');
  writeFileSync(file, 'server:\n  name: id.example.org\nstorage:\n  mongodb:\n    uri: mongodb://u:file-secret@db/x\nhashing:\n  delay: 5m 6s\n');
  const secrets = Object.fromEntries(schemaKeys().filter((k) => k.spec.sensitive && k.key !== 'storage.mongodb.uri').map((k) => [k.env, secretSample(k.env)]));
  const { code, stdout, stderr } = await unisd(['config', 'check', '-c', file], secrets);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^# configuration is valid/);
  for (const secret of ['file-secret', ...Object.keys(secrets).map((env) => `env-secret-${env}`)]) assert.ok(!stdout.includes(secret), `${secret} is not printed`);
  const printed = parse(stdout);
  for (const { key, spec } of schemaKeys()) {
    const value = key.split('.').reduce((n: any, k) => n[k], printed);
    if (spec.sensitive) assert.equal(value, MASK, `${key} is masked`);
  }
  assert.equal(printed.server.name, 'id.example.org');
  assert.equal(printed.hashing.delay, '5m 6s');
  assert.equal(printed.matrix.v2, true, 'defaults are shown too');
});

test('config check reads UNISD_CONFIG and its output is itself a valid configuration', async () => {
  const file = join(dir, 'plain.yaml');
  writeFileSync(file, 'matrix:\n  v1: false\nhashing:\n  delay: 2d 4h 12m 34s\n');
  const { code, stdout } = await unisd(['config', 'check'], { UNISD_CONFIG: file, UNISD_SERVER_PORT: '9000' });
  assert.equal(code, 0);
  const printedFile = join(dir, 'printed.yaml');
  writeFileSync(printedFile, stdout);
  const reloaded = loadConfig({ file: printedFile, env: {} });
  assert.deepEqual(reloaded, loadConfig({ file, env: { UNISD_SERVER_PORT: '9000' } }));
  assert.equal(reloaded.server.port, 9000);
  assert.equal(reloaded.matrix.v1, false);
});

test('config check of a bad file: one line "unisd: …", exit 1, no stack trace', async () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'hashing:\n  delay: 2 minutes\n');
  assertOneLineError(await unisd(['config', 'check', '-c', file]), new RegExp(`in ${file} line 2: hashing\\.delay: expected a duration`));
  assertOneLineError(await unisd(['config', 'check'], { UNISD_MATRIX_V1: 'maybe' }), /environment variable UNISD_MATRIX_V1: matrix\.v1: expected true or false/);
  assertOneLineError(await unisd(['config', 'check', '-c', join(dir, 'nope.yaml')]), /cannot read config file .*nope\.yaml: no such file/);
});

test('config check refuses what start refuses: a plugin\'s own check and an unreadable TLS file, in the same line', async () => {
  const rest = join(dir, 'rest-host.yaml');
  writeFileSync(rest, 'rest:\n  enabled: true\n  host: ftp//directory\n');
  const certificate = join(dir, 'tls.yaml');
  writeFileSync(certificate, `server:\n  tls:\n    cert: ${join(dir, 'missing.pem')}\n    key: ${join(dir, 'missing.key')}\n`);
  for (const [file, pattern] of [[rest, /^unisd: config error: rest\.host: expected an http:\/\/ or https:\/\/ URL$/], [certificate, /^unisd: config error: server\.tls\.cert: cannot read .*missing\.pem: no such file$/]] as const) {
    const checked = await unisd(['config', 'check', '-c', file]);
    assertOneLineError(checked, pattern);
    assert.equal(checked.stdout, '', 'nothing is called valid');
    const started = await unisd(['-c', file]);
    assertOneLineError(started, pattern);
  }
});

test('config check and providers check accept a plugin that needs hash lookup (an MSC4004 hub): the offline app keeps hashing on', async () => {
  const file = join(dir, 'hub.yaml');
  writeFileSync(file, 'unifiedView:\n  enabled: true\n  members:\n    - server: id.nice.example.org\n      secret: a-long-random-secret-from-the-nice-operator\n');
  const checked = await unisd(['config', 'check', '-c', file]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(checked.stdout, /^# configuration is valid/);
  const providers = await unisd(['providers', 'check', '-c', file]);
  assert.equal(providers.code, 0, providers.stderr);
  assert.equal(providers.stdout, 'no identity provider is enabled\n');
});

test('output into a pipe whose reader has gone (unisd config keys | head) ends quietly, exit 0', async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', 'config', 'keys'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // the reader is gone before the first write: every write fails with EPIPE
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const [code] = await once(child, 'exit');
  assert.equal(stderr, '', 'no stack trace');
  assert.equal(code, 0);
});

test('start with a bad config fails the same way before listening', async () => {
  const file = join(dir, 'bad-start.yaml');
  writeFileSync(file, 'server:\n  prot: 1\n');
  assertOneLineError(await unisd(['-c', file]), /server\.prot: unknown key, expected one of name, /);
});

test('usage errors are one line too', async () => {
  assertOneLineError(await unisd(['frobnicate']), /unknown command "frobnicate" \(see unisd --help\)/);
  assertOneLineError(await unisd(['config']), /^unisd: "config" needs one of: check, keys, example \(see unisd --help\)$/);
  assertOneLineError(await unisd(['import', 'sydent']), /^unisd: import sydent needs --db and --config \(see unisd --help\)$/);
  assertOneLineError(await unisd(['hash', 'rotte']), /^unisd: unknown command "hash rotte": "hash" needs one of: status, rotate \(see unisd --help\)$/);
  assertOneLineError(await unisd(['--verbose']), /unknown option --verbose/);
  assertOneLineError(await unisd(['config', 'check', '-c']), /-c needs a file name/);
});

test('a startup failure that is not a config error is one line too (unreadable signing key)', async () => {
  const keyFile = join(dir, 'bad.key');
  writeFileSync(keyFile, 'not a key\n');
  const file = join(dir, 'start.yaml');
  writeFileSync(file, `server:\n  port: 0\nlogging:\n  level: silent\nkeys:\n  path: ${keyFile}\nstorage:\n  sqlite:\n    path: ':memory:'\n`);
  assertOneLineError(await unisd(['-c', file]), /signing key .*bad\.key is not of the form/);
});

test('config keys prints docs/configuration.md', async () => {
  const { code, stdout } = await unisd(['config', 'keys']);
  assert.equal(code, 0);
  assert.equal(stdout, readFileSync(join(root, 'docs/configuration.md'), 'utf8'));
});

test('hash status and hash rotate read and move the stored pepper, and status never prints it', async () => {
  const data = mkdtempSync(join(tmpdir(), 'unisd-hash-cli-'));
  const file = join(data, 'config.yaml');
  writeFileSync(file, `storage:\n  sqlite:\n    path: ${join(data, 'db.sqlite')}\nkeys:\n  path: ${join(data, 'signing.key')}\nlogging:\n  level: silent\nhashing:\n  hashStorageType: sql\n`);
  const before = await unisd(['hash', 'status', '-c', file]);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, /no pepper yet/);
  const rotated = await unisd(['hash', 'rotate', '-c', file]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /pepper rotated \(new pepper current\)/);
  // The database is one process's at a time (its lock): read it, then let the commands have it.
  const { openSqliteStore } = await import('../core/store/sqlite/index.js');
  const pepperState = async () => {
    const store = await openSqliteStore(join(data, 'db.sqlite'));
    try { return (await store.peppers.getPepperState())!; } finally { await store.close(); }
  };
  const first = await pepperState();
  assert.equal(first.altPeppers.length, 1, 'the start made one pepper, the rotation the next');
  const after = await unisd(['hash', 'status', '-c', file]);
  assert.match(after.stdout, /pepper: 20 characters, current since/);
  assert.match(after.stdout, /table of the current pepper: 0 entries/);
  assert.match(after.stdout, /alternate peppers still accepted: 1/);
  assert.doesNotMatch(after.stdout, new RegExp(first.pepper), 'the pepper itself is not printed');
  await unisd(['hash', 'rotate', '-c', file]);
  assert.notEqual((await pepperState()).pepper, first.pepper);
});
