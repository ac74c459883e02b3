import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, envName, loadConfig, printableConfig, schemaKeys, MASK } from '../core/config/load.js';
import { secretSample } from './helpers/secret-samples.js';
import { formatDuration, parseDuration } from '../core/config/duration.js';
import { configurationMarkdown, exampleConfiguration } from '../core/config/docs.js';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'unisd-config-'));
let files = 0;

function yamlFile(text: string): string {
  const path = join(dir, `config-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfig({ file: yamlFile(text), env });

/** The ConfigError thrown by `fn`, checked to be one line. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `message is not one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('durations: the seed format, and nothing ambiguous', () => {
  assert.equal(parseDuration('2d 4h 12m 34s'), ((2 * 24 + 4) * 60 + 12) * 60_000 + 34_000);
  assert.equal(parseDuration('5m 6s'), 306_000);
  assert.equal(parseDuration('12s'), 12_000);
  assert.equal(parseDuration('6h 3s'), 6 * 3_600_000 + 3000);
  assert.equal(parseDuration('3m'), 180_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['10', '', ' ', '2 minutes', '1.5h', '4h 2d', 'h', '3M', '-5s', '99999999999999d']) {
    assert.throws(() => parseDuration(bad), /expected a duration/, JSON.stringify(bad));
  }
  for (const ms of [0, 250, 12_000, 306_000, 187_954_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
  assert.equal(formatDuration(187_954_000), '2d 4h 12m 34s');
});

test('defaults alone make a valid configuration: SQLite under ./data, 127.0.0.1:8090, v1 and v2 on', () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.server.host, '127.0.0.1');
  assert.equal(config.server.port, 8090);
  assert.equal(config.storage.backend, 'sqlite');
  assert.equal(config.storage.sqlite.path, './data/unisd.db');
  assert.equal(config.keys.path, './data/signing.key');
  assert.equal(config.matrix.v1, true);
  assert.equal(config.matrix.v2, true);
});

const seedFile = ((): string | undefined => {
  const seeds = resolve(root, '../shared/seeds');
  const name = existsSync(seeds) ? readdirSync(seeds).find((f) => f.startsWith('003_') && f.endsWith('.txt')) : undefined;
  return name && join(seeds, name);
})();

test('every ```.yaml snippet of the seed loads unchanged', { skip: seedFile ? false : 'skipped: seed 003_*.txt not found (expected in ../shared/seeds)' }, () => {
  const text = readFileSync(seedFile!, 'utf8');
  const blocks = [...text.matchAll(/```\.yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 9, 'the seed has nine YAML snippets');
  const configs = blocks.map((block) => ({ block, config: load(block) }));

  // Each scalar written in a snippet is the value loaded, durations read as written.
  const leaves = (node: unknown, path: string[] = []): Array<[string[], unknown]> => (
    node !== null && typeof node === 'object' && !Array.isArray(node)
      ? Object.entries(node).flatMap(([k, v]) => leaves(v, [...path, k]))
      : [[path, node]]);
  for (const { block, config } of configs) {
    for (const [path, written] of leaves(parse(block))) {
      const loaded = path.reduce((n: any, k) => n[k], config);
      if (path.join('.') === 'hashing.delay') assert.equal(loaded, parseDuration(written));
      else if (path.at(-1) === 'version') assert.equal(loaded, '1.0');
      else assert.deepEqual(loaded, written, path.join('.'));
    }
  }

  const find = (snippetStart: string) => configs.find(({ block }) => block.startsWith(snippetStart))!.config;
  const byDefault = configs[0].config;
  assert.equal(byDefault.matrix.v1, true);
  assert.equal(byDefault.matrix.v2, false);
  assert.equal(configs[1].config.matrix.v1, false);
  assert.equal(configs[1].config.matrix.v2, true, 'unisd serves v2 unless told otherwise');

  const { policies } = find('policy:').policy;
  assert.deepEqual(policies.term_name, {
    version: '1.0',
    terms: {
      en: { name: 'term name en', url: 'https://ma1sd.host.tld/term_en.html' },
      fe: { name: 'term name fr', url: 'https://ma1sd.host.tld/term_fr.html' },
    },
    regexp: ['/_matrix/identity/v2/account.*', '/_matrix/identity/v2/hash_details', '/_matrix/identity/v2/lookup'],
  });
  assert.equal(typeof policies.term_name.version, 'string');

  const { hashing } = find('hashing:');
  assert.deepEqual(hashing, {
    enabled: true, maxAddresses: 10_000, pepperLength: 20, rotationPolicy: 'per_requests', hashStorageType: 'sql',
    algorithms: ['none', 'sha256'], delay: 120_000, requests: 10,
    altPeppers: { count: 1, lifetime: 60_000 }, // unisd's defaults for what ma1sd's format has no key for
  });
  assert.equal(find('synapseSql:').synapseSql.lookup.query, 'select user_id as mxid, medium, address from user_threepid_id_server');
  assert.equal(find('sql:').sql.lookup.query, 'select user as mxid, field1 as medium, field2 as address from some_table');
  assert.equal(find('memory:').memory.hashEnabled, true);
  assert.equal(find('exec:').exec.identity.hashEnabled, true);
  assert.equal(find('ldap:').ldap.lookup, true);
});

test('policy versions are text as written: 1.0 stays "1.0", 2.10 stays "2.10"', () => {
  const config = load(`policy:
  policies:
    a: { version: 1.0, terms: { en: { name: A, url: "https://a.example/tos" } } }
    b: { version: 2.10, terms: { en: { name: B, url: "https://b.example/tos" } } }
    c: { version: "3", terms: { en: { name: C, url: "https://c.example/tos" } } }
`);
  assert.deepEqual(Object.values(config.policy.policies).map((p) => p.version), ['1.0', '2.10', '3']);
  const fromOverrides = loadConfig({ env: {}, overrides: { policy: { policies: { a: { version: 4, terms: { en: { name: 'A', url: 'https://a/' } } } } } } });
  assert.equal(fromOverrides.policy.policies.a.version, '4');
});

test('ma1sd operators\' server.name, server.port, server.publicUrl and matrix.domain load', () => {
  const config = load('server:\n  name: id.example.org\n  port: 8091\n  publicUrl: https://id.example.org\nmatrix:\n  domain: example.org\n');
  assert.equal(config.server.name, 'id.example.org');
  assert.equal(config.server.port, 8091);
  assert.equal(config.server.publicUrl, 'https://id.example.org');
  assert.equal(config.matrix.domain, 'example.org');
});

test('environment variables override the file; UNISD_CONFIG names the file', () => {
  const file = yamlFile('hashing:\n  pepperLength: 30\n  delay: 1m\nmatrix:\n  v1: true\nserver:\n  name: id.example.org\n');
  const config = loadConfig({
    env: {
      UNISD_CONFIG: file,
      UNISD_HASHING_PEPPER_LENGTH: '40',
      UNISD_HASHING_DELAY: '5m 6s',
      UNISD_MATRIX_V1: 'false',
      UNISD_FEDERATION_ALLOWED_ADDRESSES: '127.0.0.1, 10.0.0.0/8',
      UNISD_ACCOUNTS_TOKEN_LIFETIME: 'never',
      UNISD_POLICY_POLICIES: '{"tos":{"version":"2","terms":{"en":{"name":"ToS","url":"https://x.example/tos"}}}}',
    },
  });
  assert.equal(config.server.name, 'id.example.org', 'the file is read');
  assert.equal(config.hashing.pepperLength, 40);
  assert.equal(config.hashing.delay, 306_000);
  assert.equal(config.matrix.v1, false);
  assert.deepEqual(config.federation.allowedAddresses, ['127.0.0.1', '10.0.0.0/8']);
  assert.equal(config.accounts.tokenLifetime, 0);
  assert.equal(config.policy.policies.tos.version, '2');
});

test('booleans: YAML 1.1 words as ma1sd wrote them, and no surprises from the environment', () => {
  assert.equal(load('matrix:\n  v1: no\n  v2: yes\n').matrix.v1, false);
  assert.equal(load('matrix:\n  v1: off\n').matrix.v1, false);
  for (const [text, value] of [['no', false], ['0', false], ['FALSE', false], ['yes', true], ['1', true], ['true', true]] as const) {
    assert.equal(loadConfig({ env: { UNISD_MATRIX_V1: text } }).matrix.v1, value, text);
  }
});

test('hashing.hashStorageType: the seed\'s sql and in_memory, and ma1sd\'s store read as sql', () => {
  assert.equal(load('hashing:\n  hashStorageType: in_memory\n').hashing.hashStorageType, 'in_memory');
  assert.equal(load('hashing:\n  hashStorageType: store\n').hashing.hashStorageType, 'sql');
  assert.equal(loadConfig({ env: { UNISD_HASHING_HASH_STORAGE_TYPE: 'store' } }).hashing.hashStorageType, 'sql');
  assert.match(configError(() => load('hashing:\n  hashStorageType: disk\n')), /line 2: hashing\.hashStorageType: expected one of sql, in_memory, got "disk"$/);
});

test('an empty section (every key commented out) is accepted', () => {
  const config = load('memory:\n  # enabled: true\nmatrix:\n  v1: false\n');
  assert.equal(config.memory.enabled, false);
  assert.equal(config.matrix.v1, false);
});

test('environment variable names are derived from the keys and unique', () => {
  assert.equal(envName('hashing.pepperLength'), 'UNISD_HASHING_PEPPER_LENGTH');
  assert.equal(envName('synapseSql.lookup.query'), 'UNISD_SYNAPSE_SQL_LOOKUP_QUERY');
  const names = schemaKeys().map((k) => k.env);
  assert.equal(new Set(names).size, names.length);
  assert.ok(!names.includes('UNISD_CONFIG'));
});

test('every key has a doc, a format and a default', () => {
  for (const { key, spec } of schemaKeys()) {
    assert.ok(spec.doc.length > 10, `${key} has a doc`);
    assert.ok(spec.format !== undefined, `${key} has a format`);
    assert.ok('default' in spec, `${key} has a default`);
  }
});

/** [yaml, parts the message must contain]; every message must also name the file. */
const BAD_FILES: Array<[string, string, RegExp[]]> = [
  ['unknown top-level key', 'servr:\n  port: 8090\n', [/line 1: servr: unknown key, expected one of server, /]],
  ['unknown nested key', 'server:\n  tls:\n    crt: a.pem\n', [/line 3: server\.tls\.crt: unknown key, expected one of cert, key/]],
  ['unknown key in a policy', 'policy:\n  policies:\n    tos:\n      verison: 1\n', [/line 4: policy\.policies\.tos\.verison: unknown key, expected version, terms, regexp/]],
  ['unknown key in a memory identity', 'memory:\n  identities:\n    - username: bob\n      mail: bob@example.org\n', [/line 4: memory\.identities\[0\]\.mail: unknown key, expected username, threepids/]],
  ['wrong type: text for a port', 'server:\n  port: http\n', [/line 2: server\.port: expected a port number \(0-65535\), got "http"/]],
  ['wrong type: a port out of range', 'server:\n  port: 70000\n', [/server\.port: expected a port number \(0-65535\), got 70000/]],
  ['wrong type: not a boolean', 'matrix:\n  v1: maybe\n', [/line 2: matrix\.v1: expected true or false, got "maybe"/]],
  ['wrong type: a number for text', 'server:\n  host: 5\n', [/server\.host: expected text, got 5/]],
  ['wrong type: a map for a plain key', 'server:\n  name:\n    host: x\n', [/server\.name: expected a server name .*, got a map/]],
  ['wrong type: a list for a section', 'hashing:\n  - sha256\n', [/line 1: hashing: expected a section with keys enabled, .*got a list/]],
  ['wrong type: a section given a scalar', 'server: 8090\n', [/server: expected a section with keys name, .*got 8090/]],
  ['a URL as server name', 'server:\n  name: https://id.example.org\n', [/server\.name: expected a server name .*no https:\/\/.*, got "https:\/\/id\.example\.org"/]],
  ['bad enum value', 'storage:\n  backend: postgres\n', [/line 2: storage\.backend: expected one of sqlite, mongodb, got "postgres"/]],
  ['bad enum value in the seed\'s keys', 'hashing:\n  rotationPolicy: per_minute\n', [/hashing\.rotationPolicy: expected one of per_requests, per_seconds, got "per_minute"/]],
  ['bad algorithm', 'hashing:\n  algorithms: [sha256, md5]\n', [/hashing\.algorithms: expected a list of sha256 \(the spec requires it\) and optionally none, got a list/]],
  ['algorithms without sha256', 'hashing:\n  algorithms: [none]\n', [/hashing\.algorithms: expected a list of sha256 \(the spec requires it\) and optionally none, got a list/]],
  ['short pepper', 'hashing:\n  pepperLength: 7\n', [/line 2: hashing\.pepperLength: expected a whole number from 8 to 256, got 7/]],
  ['bad SSRF allow-list entry', 'federation:\n  allowedAddresses: ["127.0.0.1", "10.0.0.0/33"]\n', [/line 2: federation\.allowedAddresses\[1\]: expected an IP address or a CIDR range such as "10\.0\.0\.0\/8", got "10\.0\.0\.0\/33"$/]],
  ['SSRF allow-list not a list', 'federation:\n  allowedAddresses: { lan: 10.0.0.0/8 }\n', [/line 2: federation\.allowedAddresses: expected a list of IP addresses or CIDR ranges such as "127\.0\.0\.1" or "10\.0\.0\.0\/8", got a map$/]],
  ['trustProxy: true', 'server:\n  trustProxy: true\n', [/line 2: server\.trustProxy: expected the addresses or CIDR ranges of the reverse proxies in front of unisd, such as \["127\.0\.0\.1"\], or false: true would take the client's address from the left-most X-Forwarded-For entry, which the client writes/]],
  ['trustProxy: a hop count', 'server:\n  trustProxy: 1\n', [/line 2: server\.trustProxy: expected the addresses or CIDR ranges of the reverse proxies .*, or false, got 1$/]],
  ['trustProxy: not an address', 'server:\n  trustProxy: [proxy.local]\n', [/server\.trustProxy: expected the addresses or CIDR ranges/]],
  ['bad duration', 'hashing:\n  delay: 2 minutes\n', [/line 2: hashing\.delay: expected a duration such as "2d 4h 12m 34s", "5m 6s" or "12s", got "2 minutes"/]],
  ['duration without unit', 'hashing:\n  delay: 10\n', [/hashing\.delay: expected a duration .*a number needs a unit.*, got 10/]],
  ['policy without terms', 'policy:\n  policies:\n    tos:\n      version: 1.0\n', [/line 3: policy\.policies\.tos\.terms: expected at least one language with \{name, url\}/]],
  ['policy without version', 'policy:\n  policies:\n    tos:\n      terms: { en: { name: T, url: "https://x/t" } }\n', [/policy\.policies\.tos\.version: expected a version/]],
  ['policy regexp not a list', 'policy:\n  policies:\n    tos:\n      version: 1\n      terms: { en: { name: T, url: "https://x/t" } }\n      regexp: "/_matrix/.*"\n', [/line 6: policy\.policies\.tos\.regexp: expected a list of regular expressions/]],
  ['policy regexp invalid', 'policy:\n  policies:\n    tos:\n      version: 1\n      terms: { en: { name: T, url: "https://x/t" } }\n      regexp: ["(unclosed"]\n', [/policy\.policies\.tos\.regexp\[0\]: expected a valid regular expression/]],
  ['policies not a map', 'policy:\n  policies: [tos]\n', [/line 2: policy\.policies: expected a map of policy name to/]],
  ['YAML syntax error', 'server:\n  name: "id.example.org\n  port: 8090\n', [/line \d+: invalid YAML: /]],
  ['YAML bad indentation', 'server:\n  name: a\n port: 8090\n', [/line 3: invalid YAML: /]],
  ['YAML duplicate key', 'server:\n  port: 1\n  port: 2\n', [/line 3: invalid YAML: Map keys must be unique/]],
  ['YAML unknown tag', 'server:\n  name: !secret x\n', [/line 2: invalid YAML: Unresolved tag: !secret/]],
  ['YAML unknown alias', 'server:\n  name: *x\n', [/invalid YAML: Unresolved alias/]],
  ['YAML with two documents', 'server: {}\n---\nmatrix: {}\n', [/invalid YAML: a config file holds one YAML document/]],
  ['YAML list at the top', '- server\n', [/expected a map of sections/]],
  ['several problems', 'servr: 1\nmatrx: 2\n', [/servr: unknown key.*\(and 1 more problem\)$/]],
];

for (const [name, yaml, patterns] of BAD_FILES) {
  test(`bad config, ${name}: one line naming the file, the key and what was expected`, () => {
    const file = yamlFile(yaml);
    const message = configError(() => loadConfig({ file, env: {} }));
    assert.ok(message.startsWith(`config error in ${file}`), message);
    for (const pattern of patterns) assert.match(message, pattern);
  });
}

test('server.trustProxy: false, or a list of proxy addresses (in the environment comma-separated)', () => {
  assert.equal(load('server:\n  trustProxy: false\n').server.trustProxy, false);
  assert.deepEqual(load('server:\n  trustProxy: ["10.0.0.0/8", "::1"]\n').server.trustProxy, ['10.0.0.0/8', '::1']);
  assert.deepEqual(loadConfig({ env: { UNISD_SERVER_TRUST_PROXY: '127.0.0.1, 10.1.2.3' } }).server.trustProxy, ['127.0.0.1', '10.1.2.3']);
  assert.equal(loadConfig({ env: { UNISD_SERVER_TRUST_PROXY: 'false' } }).server.trustProxy, false);
  assert.match(configError(() => loadConfig({ env: { UNISD_SERVER_TRUST_PROXY: 'true' } })), /server\.trustProxy: .*true would take the client's address/);
});

test('bad config: an unknown UNISD_ environment variable is refused; UNISD_CONFIG and UNISD_TEST_* are not config keys', () => {
  assert.equal(configError(() => loadConfig({ env: { UNISD_SERVER_PROT: '8091' } })),
    'config error: environment variable UNISD_SERVER_PROT is not a configuration key (`unisd config keys` lists them)');
  assert.equal(loadConfig({ env: { UNISD_TEST_MONGODB_URI: 'mongodb://x', UNISD_SERVER_PORT: '8091' } }).server.port, 8091);
});

test('bad config: an unreadable file is named', () => {
  assert.match(configError(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} })), /^config error: cannot read config file .*missing\.yaml: no such file$/);
  assert.match(configError(() => loadConfig({ file: dir, env: {} })), /cannot read config file .*: it is a directory$/);
  assert.match(configError(() => loadConfig({ env: { UNISD_CONFIG: join(dir, 'gone.yaml') } })), /gone\.yaml: no such file \(from UNISD_CONFIG\)$/);
});

const BAD_ENV: Array<[string, string, RegExp]> = [
  ['UNISD_SERVER_PORT', '80x', /server\.port: expected a port number \(0-65535\), got "80x"/],
  ['UNISD_MATRIX_V2', 'maybe', /matrix\.v2: expected true or false, got "maybe"/],
  ['UNISD_HASHING_DELAY', 'soon', /hashing\.delay: expected a duration .*, got "soon"/],
  ['UNISD_HASHING_PEPPER_LENGTH', '-1', /hashing\.pepperLength: expected a whole number from 8 to 256, got "-1"/],
  ['UNISD_STORAGE_BACKEND', 'postgres', /storage\.backend: expected one of sqlite, mongodb, got "postgres"/],
  ['UNISD_POLICY_POLICIES', '{not json', /policy\.policies: expected a map of policy name/],
  ['UNISD_MEMORY_IDENTITIES', '[{"username": 5}]', /memory\.identities\[0\]\.username: expected a localpart or a full Matrix ID/],
];

for (const [name, value, pattern] of BAD_ENV) {
  test(`bad environment value ${name}=${value}: names the variable, the file, the key and what was expected`, () => {
    const file = yamlFile('server:\n  port: 8090\n');
    const message = configError(() => loadConfig({ file, env: { [name]: value } }));
    assert.ok(message.startsWith(`config error in environment variable ${name} (config file ${file}): `), message);
    assert.match(message, pattern);
  });
}

test('secrets never appear in error messages', () => {
  const message = configError(() => load('ldap:\n  connection:\n    bindPassword: 918273645\n'));
  assert.match(message, /ldap\.connection\.bindPassword: expected text$/);
  assert.doesNotMatch(message, /918273645/);
  const fromEnv = configError(() => loadConfig({ env: { UNISD_EMAIL_SMTP_PASSWORD: 'hunter2', UNISD_EMAIL_SMTP_PORT: 'x' } }));
  assert.doesNotMatch(fromEnv, /hunter2/);
});

test('printableConfig masks every sensitive key that is set, writes durations as text, and loads again', () => {
  const secrets = Object.fromEntries(schemaKeys().filter((k) => k.spec.sensitive).map((k) => [k.env, secretSample(k.env, `secret-${k.env}`)]));
  assert.ok(Object.keys(secrets).length >= 5, 'the schema marks its secrets');
  const config = loadConfig({ env: { ...secrets, UNISD_HASHING_DELAY: '2m' } });
  const printable = printableConfig(config);
  const text = JSON.stringify(printable);
  for (const env of Object.keys(secrets)) assert.ok(!text.includes(`secret-${env}`), `${env} is masked`);
  for (const { key, spec } of schemaKeys()) {
    const value = key.split('.').reduce((n: any, k) => n[k], printable);
    if (spec.sensitive) assert.equal(value, MASK, key);
  }
  assert.equal((printable.hashing as any).delay, '2m');
  // Without secrets, the printed configuration is a valid configuration file, loading to the same values.
  const plain = loadConfig({ env: { UNISD_HASHING_DELAY: '2d 4h 12m 34s', UNISD_ACCOUNTS_TOKEN_LIFETIME: 'never' } });
  const again = loadConfig({ env: {}, overrides: printableConfig(plain) });
  assert.deepEqual(again, plain);
});

test('config/unisd.example.yaml loads and shows every key', () => {
  const file = join(root, 'config/unisd.example.yaml');
  const config = loadConfig({ file, env: {} });
  assert.equal(config.memory.enabled, true, 'the example enables the reference memory provider');
  assert.ok(Object.keys(config.policy.policies).length > 0, 'the example has a terms policy');
  const written = parse(readFileSync(file, 'utf8'));
  const missing = schemaKeys().filter(({ key }) => key.split('.').reduce((n: any, k) => (n && typeof n === 'object' && k in n ? n[k] : undefined), written) === undefined);
  assert.deepEqual(missing.map((k) => k.key), [], 'add these keys to their plugin manifest\'s example (or core/config/example.ts), with a comment');
  assert.ok(readFileSync(file, 'utf8') === exampleConfiguration(), 'config/unisd.example.yaml is out of date: run `npm run docs`');
});

test('docs/configuration.md is generated from the schema and up to date', () => {
  const doc = readFileSync(join(root, 'docs/configuration.md'), 'utf8');
  assert.ok(doc === configurationMarkdown(), 'docs/configuration.md is out of date: run `npm run docs`');
  for (const { key, env } of schemaKeys()) assert.ok(doc.includes(`| \`${key}\` | \`${env}\` |`), key);
});
