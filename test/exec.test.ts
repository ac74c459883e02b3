import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExecProvider, type ExecProviderOptions, type ExecutableConfig } from '../plugins/exec/provider.js';
import { ExecError, runCommand } from '../plugins/exec/command.js';
import { jsonItems } from '../plugins/exec/stream-items.js';
import { testApp, testConfig } from './helpers/app.js';
import { heldCost, measureStream } from './helpers/heap.js';
import { lookupByHash } from './helpers/hash-app.js';

const FIXTURES = resolve(import.meta.dirname, 'fixtures/exec');
const fixture = (name: string) => join(FIXTURES, name);
const never = new AbortController().signal;

const alice = { medium: 'email', address: 'alice@example.com' };
const bob = { medium: 'msisdn', address: '441632960000' };
const nobody = { medium: 'email', address: 'nobody@example.com' };

function program(command: string, extra: Partial<ExecutableConfig> = {}): ExecutableConfig {
  return { command, args: [], env: {}, output: { type: 'json' }, exit: { success: [0], failure: [1] }, ...extra };
}

const none = program('');

function execProvider(options: Partial<ExecProviderOptions>): ExecProvider {
  return new ExecProvider({
    single: none, bulk: none, all: none, token: {}, domain: 'example.com', priority: 20, hashEnabled: false,
    timeout: 10_000, maxOutputBytes: 1_048_576, ...options,
  });
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-exec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('exec single lookup, JSON (ma1sd): the 3PID on stdin, a localpart or a Matrix ID back, {} for no match', async () => {
  const provider = execProvider({ single: program(fixture('single-json.mjs'), { input: { type: 'json', template: '' } }) });
  assert.equal(await provider.lookup(alice, never), '@alice:example.com');
  assert.equal(await provider.lookup(bob, never), '@bob:other.example');
  assert.equal(await provider.lookup(nobody, never), null);
});

test('exec single lookup, plain (ma1sd): tokens in the arguments, one line = localpart, two = type and value, exit 1 = no match', async () => {
  const provider = execProvider({ single: program(fixture('single-plain.sh'), { args: ['--', '{medium}', '{address}'], output: { type: 'plain' } }) });
  assert.equal(await provider.lookup(alice, never), '@alice:example.com');
  assert.equal(await provider.lookup(bob, never), '@bob:other.example');
  assert.equal(await provider.lookup(nobody, never), null);
});

test('exec single lookup: custom token texts (ma1sd\'s exec.token) are replaced in arguments and the environment', async (t) => {
  const record = join(tempDir(t), 'record.json');
  const provider = execProvider({
    token: { address: '%ADDR%' },
    single: program(fixture('record-args.mjs'), { args: ['x%ADDR%y', '{address}', '{medium}'], env: { RECORD_FILE: record, LOOKUP_ADDRESS: '%ADDR%' }, token: { medium: '%M%' } }),
  });
  assert.equal(await provider.lookup(alice, never), null);
  const seen = JSON.parse(readFileSync(record, 'utf8'));
  // The per-program token (%M%) replaces {medium}; exec.token's %ADDR% replaces {address}.
  assert.deepEqual(seen.args, ['xalice@example.comy', '{address}', '{medium}']);
  assert.equal(seen.env, 'alice@example.com');
});

test('exec: shell metacharacters in an address reach the program as one literal argument, run nothing and find nothing', async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'marker');
  const record = join(dir, 'record.json');
  const recording = execProvider({ single: program(fixture('record-args.mjs'), { args: ['--', '{address}'], env: { RECORD_FILE: record, LOOKUP_ADDRESS: '{address}' } }) });
  const plainScript = execProvider({ single: program(fixture('single-plain.sh'), { args: ['--', '{medium}', '{address}'], output: { type: 'plain' } }) });
  const attacks = [`$(touch ${marker})@example.com`, `x@example.com; touch ${marker}`, `\`touch ${marker}\`@example.com`, `x@example.com && touch ${marker} #`, `'"|touch ${marker}`];
  for (const address of attacks) {
    assert.equal(await recording.lookup({ medium: 'email', address }, never), null);
    const seen = JSON.parse(readFileSync(record, 'utf8'));
    assert.deepEqual(seen.args, ['--', address]);
    assert.equal(seen.env, address);
    assert.equal(await plainScript.lookup({ medium: 'email', address }, never), null);
  }
  assert.equal(existsSync(marker), false);
});

test('exec: the program gets none of unisd\'s own environment (UNISD_* variables may hold secrets)', async (t) => {
  const record = join(tempDir(t), 'record.json');
  process.env.UNISD_TEST_EXEC_SECRET = 'x';
  t.after(() => { delete process.env.UNISD_TEST_EXEC_SECRET; });
  await execProvider({ single: program(fixture('record-args.mjs'), { env: { RECORD_FILE: record } }) }).lookup(alice, never);
  assert.deepEqual(JSON.parse(readFileSync(record, 'utf8')).unisd, []);
});

test('exec bulk lookup, JSON (ma1sd): the list on stdin, the matches back, raw addresses normalised', async () => {
  const provider = execProvider({ bulk: program(fixture('bulk-json.mjs'), { input: { type: 'json' } }) });
  assert.equal(provider.capabilities.bulk, true);
  assert.deepEqual(await provider.bulkLookup([alice, bob, nobody], never), [
    { ...alice, mxid: '@alice:example.com' },
    { ...bob, mxid: '@bob:other.example' },
  ]);
  // Without a single program, a single lookup goes through the bulk one.
  assert.equal(await provider.lookup(bob, never), '@bob:other.example');
});

test('exec bulk lookup, plain: "medium<TAB>address" lines in, "medium<TAB>address<TAB>[type<TAB>]value" lines out', async () => {
  const provider = execProvider({ bulk: program(fixture('bulk-plain.mjs'), { input: { type: 'plain' }, output: { type: 'plain' } }) });
  assert.deepEqual(await provider.bulkLookup([nobody, bob, alice], never), [
    { ...bob, mxid: '@bob:other.example' },
    { ...alice, mxid: '@alice:example.com' },
  ]);
});

test('exec hash source: 100k mappings of ma1sd\'s bulk document (the bulk program with no input), streamed in batches with bounded heap', async () => {
  const provider = execProvider({ hashEnabled: true, bulk: program(fixture('list.mjs'), { env: { COUNT: '100000', FORMAT: 'ma1sd' } }) });
  assert.equal(provider.capabilities.hashSource, true);
  const measured = await measureStream(provider.mappings(never));
  assert.equal(measured.mappings, 100_003);
  assert.equal(measured.largestBatch, 1000);
  const held = heldCost(100_000);
  assert.ok(measured.peakGrowth < held / 4, `heap grew by ${measured.peakGrowth} bytes while streaming; holding 100k mappings costs ${held}`);
});

test('exec hash source: JSON lines and plain lines from exec.identity.lookup.all, addresses normalised, unknown media skipped and counted', async () => {
  for (const format of ['jsonl', 'plain']) {
    const provider = execProvider({ hashEnabled: true, all: program(fixture('list.mjs'), { env: { COUNT: '2500', FORMAT: format }, output: { type: format === 'plain' ? 'plain' : 'json' } }) });
    const batches: number[] = [];
    const seen = new Map<string, string>();
    for await (const batch of provider.mappings(never)) {
      batches.push(batch.length);
      for (const m of batch) seen.set(`${m.medium}:${m.address}`, m.mxid);
    }
    assert.deepEqual(batches, [1000, 1000, 503], format);
    assert.equal(seen.get('email:alice@example.com'), '@alice:example.com');
    assert.equal(seen.get('msisdn:441632960000'), '@bob:other.example');
    assert.equal(seen.get('email:user2499@example.org'), '@user2499:example.org');
  }
  const garbage = execProvider({ hashEnabled: true, all: program('/bin/sh', { args: ['-c', 'printf \'%s\\n\' \'{"medium":"fax","address":"1","id":{"type":"mxid","value":"@a:b"}}\' \'{"medium":"email","address":"a@b.c"}\' \'{"medium":"email","address":"d@e.f","id":{"type":"mxid","value":"@d:e"}}\''] }) });
  const found = [];
  for await (const batch of garbage.mappings(never)) found.push(...batch);
  assert.deepEqual(found, [{ medium: 'email', address: 'd@e.f', mxid: '@d:e' }]);
  assert.equal(garbage.skipped, 2);
});

test('exec: a program that hangs is killed at exec.timeout, with what it started', async (t) => {
  const pidFile = join(tempDir(t), 'pid');
  const started = new Promise<void>((done) => {
    const watcher = watch(join(pidFile, '..'), () => {
      if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n')) { watcher.close(); done(); }
    });
  });
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const run = runCommand({ command: fixture('hang.sh'), args: [], env: { PID_FILE: pidFile } }, '', { timeout: 5000, maxOutputBytes: 1024 }, never);
  await started;
  t.mock.timers.tick(5000);
  await assert.rejects(run, (err: Error) => err instanceof ExecError && /ran longer than 5000 ms/.test(err.message));
  const sleeper = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(processGone(sleeper), 'the child the program started was killed too');
});

test('exec: an aborted lookup (the registry\'s deadline) kills the program', async (t) => {
  const pidFile = join(tempDir(t), 'pid');
  const controller = new AbortController();
  const provider = execProvider({ single: program(fixture('hang.sh'), { env: { PID_FILE: pidFile } }) });
  const watcher = watch(join(pidFile, '..'), () => {
    if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n')) { watcher.close(); controller.abort(); }
  });
  await assert.rejects(provider.lookup(alice, controller.signal), /stopped/);
  assert.ok(processGone(Number(readFileSync(pidFile, 'utf8'))));
});

/** True when the process no longer runs (gone, or a zombie waiting for a reaper that is not ours). */
function processGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

test('exec: a program printing 100 MB is cut at exec.maxOutputBytes and the lookup fails', async () => {
  const provider = execProvider({ single: program(fixture('flood.sh')), maxOutputBytes: 65_536 });
  await assert.rejects(provider.lookup(alice, never), (err: Error) => err instanceof ExecError && /printed more than 65536 bytes/.test(err.message));
});

test('exec: exit codes — success reads the output, failure (1) is no match, any other code fails the provider; a missing program too', async () => {
  const exits = { success: [0], failure: [1] };
  assert.equal(await execProvider({ single: program(fixture('fail.sh'), { env: { EXIT_CODE: '1' }, exit: exits }) }).lookup(alice, never), null);
  await assert.rejects(execProvider({ single: program(fixture('fail.sh'), { exit: exits }) }).lookup(alice, never), /fail\.sh exited with code 3/);
  assert.equal(await execProvider({ single: program(fixture('fail.sh'), { exit: { success: [0, 3], failure: [1] } }) }).lookup(alice, never), null);
  await assert.rejects(execProvider({ single: program('/nonexistent/lookup') }).lookup(alice, never), /cannot run \/nonexistent\/lookup: ENOENT/);
  const listing = execProvider({ hashEnabled: true, all: program(fixture('fail.sh')) });
  await assert.rejects(async () => { for await (const _ of listing.mappings(never)) { /* consume */ } }, /exited with code 3/);
});

test('exec through the app: v1 lookups answered by the program; a failing program is skipped and the others answer', async (t) => {
  const memory = { enabled: true, identities: [{ username: '@dave:example.com', threepids: [{ medium: 'email', address: 'dave@example.com' }] }] };
  // Generous deadline: each lookup starts a node program, slow on a loaded machine.
  const app = await testApp({
    matrix: { domain: 'example.com' }, memory, providers: { timeout: '30s' },
    exec: { enabled: true, identity: { priority: 5, lookup: { single: { command: fixture('single-json.mjs'), input: { type: 'json' } }, bulk: { command: fixture('bulk-json.mjs') } } } },
  });
  t.after(() => app.close());
  const single = await app.inject({ method: 'GET', url: '/_matrix/identity/api/v1/lookup?medium=email&address=ALICE@example.com' });
  assert.equal(single.statusCode, 200);
  assert.equal(single.json().mxid, '@alice:example.com');
  const bulk = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup', payload: { threepids: [['msisdn', '+44 1632 960000'], ['email', 'dave@example.com'], ['email', 'nobody@example.com']] } });
  assert.deepEqual(bulk.json(), { threepids: [['msisdn', '+44 1632 960000', '@bob:other.example'], ['email', 'dave@example.com', '@dave:example.com']] });

  const broken = await testApp({
    matrix: { domain: 'example.com' }, memory, providers: { timeout: '30s' },
    exec: { enabled: true, identity: { priority: 5, lookup: { single: { command: fixture('fail.sh') }, bulk: { command: fixture('fail.sh') } } } },
  });
  t.after(() => broken.close());
  const degraded = await broken.inject({ method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup', payload: { threepids: [['email', 'alice@example.com'], ['email', 'dave@example.com']] } });
  assert.equal(degraded.statusCode, 200);
  assert.deepEqual(degraded.json(), { threepids: [['email', 'dave@example.com', '@dave:example.com']] });
  assert.equal(broken.providers.failures.get('exec')?.error, 1);
});

test('exec through the app: a program that hangs is abandoned at providers.timeout and the others answer (200)', async (t) => {
  const memory = { enabled: true, identities: [{ username: '@dave:example.com', threepids: [{ medium: 'email', address: 'dave@example.com' }] }] };
  const app = await testApp({
    matrix: { domain: 'example.com' }, memory, providers: { timeout: '300ms' },
    exec: { enabled: true, identity: { priority: 5, lookup: { bulk: { command: fixture('hang.sh'), env: { PID_FILE: join(tempDir(t), 'pid') } } } } },
  });
  t.after(() => app.close());
  const res = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/bulk_lookup', payload: { threepids: [['email', 'alice@example.com'], ['email', 'dave@example.com']] } });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { threepids: [['email', 'dave@example.com', '@dave:example.com']] });
  assert.equal(app.providers.failures.get('exec')?.timeout, 1);
});

test('exec: a sha256 hash lookup through the running app finds the listing program\'s 3PIDs by their normalised hashes (Alice@Example.com as alice@example.com)', async (t) => {
  const found = await lookupByHash(t, {
    matrix: { domain: 'example.com' },
    exec: { enabled: true, identity: { hashEnabled: true, lookup: { bulk: { command: fixture('bulk-json.mjs') }, all: { command: fixture('list.mjs'), env: { COUNT: '2', FORMAT: 'jsonl' } } } } },
  }, [
    { medium: 'email', address: 'alice@example.com' }, { medium: 'msisdn', address: '441632960000' }, { medium: 'email', address: 'user1@example.org' },
    // The program's own spelling is not what a client hashes; an unknown address finds nothing.
    { medium: 'email', address: 'Alice@Example.com' }, { medium: 'email', address: 'nobody@example.com' },
  ]);
  assert.deepEqual(found, { 'alice@example.com email': '@alice:example.com', '441632960000 msisdn': '@bob:other.example', 'user1@example.org email': '@user1:example.org' });
});

test('exec: ma1sd\'s exec configuration loads unchanged (tokens, exit codes, hashLookup, its auth and profile sections)', () => {
  const config = testConfig({
    exec: {
      enabled: true,
      token: { mxid: '{matrixId}' },
      auth: { enabled: true, command: '/opt/ma1sd-exec/auth.sh', args: ['{localpart}'], input: { type: 'plain', template: '{password}' } },
      profile: { displayName: { command: '/opt/profile.sh' } },
      identity: {
        hashLookup: true,
        priority: 10,
        lookup: {
          single: { command: '/opt/lookup.sh', args: ['-m', '{medium}', '-a', '{address}'], env: { DOMAIN: 'example.org' }, output: { type: 'plain' }, exit: { success: [0, 128], failure: [1, 129] } },
          bulk: { command: '/opt/bulk.sh', input: { type: 'json' }, output: { type: 'json' } },
        },
      },
    },
  });
  assert.equal(config.exec.identity.hashLookup, true);
  assert.deepEqual(config.exec.identity.lookup.single.exit.success, [0, 128]);
  assert.deepEqual(config.exec.identity.lookup.single.args, ['-m', '{medium}', '-a', '{address}']);
  assert.throws(() => testConfig({ exec: { token: { adress: '%a%' } } }), /exec\.token\.adress: unknown key/);
  assert.throws(() => testConfig({ exec: { identity: { lookup: { single: { exit: { success: ['zero'] } } } } } }), /exec\.identity\.lookup\.single\.exit\.success\[0\]: expected a whole number/);
});

test('exec: a configuration without any lookup program stops the start with one line naming the keys', async () => {
  await assert.rejects(testApp({ exec: { enabled: true } }), /exec\.identity\.lookup\.single\.command or exec\.identity\.lookup\.bulk\.command/);
});

test('exec listing reader: items are found across any chunk boundary, in ma1sd\'s document, a bare array or JSON lines; braces in strings are text', async () => {
  const item = (n: number) => ({ medium: 'email', address: `u${n}@x.org`, id: { type: 'mxid', value: `@u${n}:x.org` }, note: '{[}]"\\' });
  const outputs = [
    JSON.stringify({ count: 3, lookup: [item(1), item(2), item(3)] }, null, 2),
    JSON.stringify([item(1), item(2), item(3)]),
    [item(1), item(2), item(3)].map((i) => JSON.stringify(i)).join('\n'),
  ];
  for (const output of outputs) {
    for (const size of [1, 7, output.length]) {
      async function* chunks() { for (let i = 0; i < output.length; i += size) yield output.slice(i, i + size); }
      const items = [];
      for await (const value of jsonItems(chunks(), 1024)) items.push(value);
      assert.deepEqual(items, [item(1), item(2), item(3)], `${output.slice(0, 12)}… in chunks of ${size}`);
    }
  }
  async function* truncated() { yield '{"lookup": [{"medium": "email"'; }
  await assert.rejects(async () => { for await (const _ of jsonItems(truncated(), 1024)) { /* consume */ } }, /ends inside a value/);
  async function* huge() { yield '{"medium": "'; for (let i = 0; i < 100; i++) yield 'x'.repeat(100); }
  await assert.rejects(async () => { for await (const _ of jsonItems(huge(), 1024)) { /* consume */ } }, /longer than 1024 bytes/);
});
