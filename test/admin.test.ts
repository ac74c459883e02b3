/**
 * `unisd admin`: every command against a real SQLite file, on the store when no server runs and
 * through a running unisd process's admin socket; erase proven by v1 and hashed v2 lookups
 * finding nothing afterwards, by the store, and by the printed report.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import type { Store } from '../core/store/port.js';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import { hashSecret } from '../core/crypto/tokens.js';
import { EventBus } from '../core/events.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { signAssociation } from '../plugins/binds/association.js';
import { entriesOf } from '../plugins/lookup/rotation.js';
import { runAdmin, parseAdminArgs } from '../plugins/admin/command.js';
import { AdminInputError } from '../plugins/admin/protocol.js';
import { askAdminSocket, listenAdminSocket, MAX_REQUEST_BYTES, socketAnswers } from '../plugins/admin/socket.js';
import { answerLine } from '../plugins/admin/answer.js';
import type { AdminService } from '../plugins/admin/service.js';
import { TestSmtpServer } from './helpers/smtp.js';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'unisd-admin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ALICE = '@alice:example.org';
const BOB = '@bob:example.org';
const CAROL = '@carol:example.org';
const BOB_TOKEN = 'bob-access-token';
const NOW = Date.now();
const HOUR = 3_600_000;
const signingKey = generateSigningKey();

let instances = 0;
/** A fresh directory with a configuration whose store is an SQLite file in it. */
function setup(extra: Record<string, unknown> = {}): { config: string; db: string; data: string } {
  const base = join(dir, `i${instances++}`);
  const data = join(base, 'data');
  const config = join(base, 'unisd.yaml');
  const db = join(data, 'unisd.db');
  execFileSync('mkdir', ['-p', data]);
  writeFileSync(config, stringify({
    server: { name: 'id.example.test', host: '127.0.0.1', port: 0 },
    storage: { sqlite: { path: db } },
    keys: { path: join(data, 'signing.key') },
    logging: { level: 'info' },
    ...extra,
  }));
  return { config, db, data };
}

const bind = (store: Store, medium: string, address: string, mxid: string) => {
  const signed = signAssociation({ medium, address }, mxid, NOW, 'id.example.test', signingKey);
  return store.binds.put({ medium, address, mxid, ts: NOW, notBefore: signed.not_before, notAfter: signed.not_after, signed });
};
const invite = (token: string, address: string, sender: string) => ({
  token, medium: 'email', address, roomId: '!room:example.org', sender, fields: { sender_display_name: sender.slice(1, 4) },
  ephemeralPublicKey: `eph-${token}`, createdAt: NOW, expiresAt: NOW + HOUR, deliveredAt: null,
});
const delivery = (id: string, body: Record<string, unknown>) => ({
  // A loopback destination: a delivery made due is refused by the outbound address guard, sent nowhere.
  id, destination: '127.0.0.1:1', body, attempts: 2, nextAttemptAt: NOW + 10 * HOUR, lastError: 'HTTP 502', createdAt: NOW,
});

/**
 * Alice: two binds, a validation session, an invite to her address, an invite she sent, a queued
 * delivery, two tokens, two accepted terms. Bob and Carol: a bind, a token and a queued delivery
 * each (Carol's carries an invite Alice sent), two invites Bob sent, terms Carol accepted.
 */
async function seed(db: string): Promise<void> {
  const store = await openSqliteStore(db);
  await bind(store, 'email', 'alice@example.org', ALICE);
  await bind(store, 'msisdn', '447700900001', ALICE);
  await bind(store, 'email', 'bob@example.org', BOB);
  await bind(store, 'email', 'carol@example.org', CAROL);
  await store.sessions.create({
    sid: 's1', medium: 'email', address: 'alice@example.org', clientSecret: 'cs', tokenHash: 'x', sendAttempt: 1, nextLink: null,
    createdAt: NOW, updatedAt: NOW, validatedAt: NOW,
  });
  await store.invites.put(invite('to-alice', 'alice@example.org', CAROL));
  await store.invites.put(invite('from-alice', 'dave@example.org', ALICE));
  await store.invites.put(invite('to-dave', 'dave@example.org', BOB));
  await store.invites.put(invite('to-erin', 'erin@example.org', BOB));
  await store.onbind.enqueue(delivery('for-alice', { medium: 'email', address: 'alice@example.org', mxid: ALICE, invites: [] }));
  await store.onbind.enqueue(delivery('for-bob', { medium: 'email', address: 'bob@example.org', mxid: BOB, invites: [] }));
  await store.onbind.enqueue(delivery('for-carol', { medium: 'email', address: 'carol@example.org', mxid: CAROL, invites: [{ sender: ALICE }] }));
  await store.accounts.put({ tokenHash: hashSecret('alice-1'), userId: ALICE, createdAt: NOW, expiresAt: null });
  await store.accounts.put({ tokenHash: hashSecret('alice-2'), userId: ALICE, createdAt: NOW + 1, expiresAt: NOW + HOUR });
  await store.accounts.put({ tokenHash: hashSecret(BOB_TOKEN), userId: BOB, createdAt: NOW, expiresAt: null });
  await store.accounts.put({ tokenHash: hashSecret('carol-1'), userId: CAROL, createdAt: NOW, expiresAt: null });
  await store.terms.accept(CAROL, [{ policy: 'privacy', version: '1' }]);
  await store.terms.accept(ALICE, [{ policy: 'privacy', version: '1' }, { policy: 'tos', version: '2' }]);
  await store.close();
}

/** `unisd admin <args> --json -c <config>` in this process: the parsed result. */
async function admin(config: string, ...args: string[]): Promise<Record<string, any>> {
  return JSON.parse(await runAdmin([...args, '--json', '-c', config]));
}

/** `unisd <args>` from the sources, in its own process. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'core/cli.ts', ...args], { cwd: root, env }, (err, stdout, stderr) => {
      done({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr });
    });
  });
}

/** Asserts what `erase --mxid @alice` leaves of Alice in the store: nothing; and that Bob's and Carol's things stay. */
async function assertAliceGone(db: string): Promise<void> {
  const store = await openSqliteStore(db);
  try {
    assert.deepEqual(await store.binds.byMxid(ALICE), []);
    assert.equal(await store.binds.get('msisdn', '447700900001'), null);
    assert.equal(await store.sessions.get('s1'), null);
    assert.deepEqual(await store.invites.list({ sender: ALICE }, 10), []);
    assert.deepEqual(await store.invites.list({ threepid: { medium: 'email', address: 'alice@example.org' } }, 10), []);
    assert.equal(await store.onbind.get('for-alice'), null);
    assert.deepEqual(await store.accounts.byUser(ALICE), []);
    assert.deepEqual(await store.terms.accepted(ALICE), []);
    assert.notEqual(await store.invites.get('to-erin'), null, 'an invite Bob sent stays');
    assert.notEqual(await store.onbind.get('for-carol'), null, 'a delivery for Carol stays, even with an invite Alice sent in it');
    assert.equal((await store.accounts.byUser(CAROL)).length, 1, 'Carol\'s token stays');
    assert.equal((await store.terms.accepted(CAROL)).length, 1, 'what Carol accepted stays');
  } finally {
    await store.close();
  }
}

test('every admin command works on the SQLite file when no server runs', async (t) => {
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const { config, db, data } = setup({ email: { smtp: { host: '127.0.0.1', port: smtp.port } } });
  await seed(db);

  const lookup = await admin(config, 'lookup', 'email', ' Alice@Example.ORG ');
  assert.equal(lookup.via, 'store', 'no server runs: the CLI opened the store');
  assert.deepEqual(lookup.threepid, { medium: 'email', address: 'alice@example.org' }, 'the address is normalised as binds store it');
  assert.equal(lookup.bind.mxid, ALICE);
  assert.deepEqual(lookup.invites.map((i: any) => i.token), ['to-alice']);
  assert.equal((await admin(config, 'lookup', 'email', 'nobody@example.org')).bind, null);
  assert.match(await runAdmin(['lookup', 'msisdn', '+44 7700 900001', '-c', config]), /^msisdn 447700900001 is bound to @alice:example\.org/);

  const binds = await admin(config, 'binds', '--mxid', ALICE);
  assert.deepEqual(binds.binds.map((b: any) => `${b.medium} ${b.address}`), ['email alice@example.org', 'msisdn 447700900001']);

  const tokens = await admin(config, 'tokens', '--mxid', ALICE);
  assert.deepEqual(tokens.tokens.map((x: any) => x.id), [hashSecret('alice-2'), hashSecret('alice-1')], 'newest first, by their hashes');
  assert.equal((await admin(config, 'tokens', 'revoke', hashSecret('alice-2'))).revoked, 1);
  await assert.rejects(admin(config, 'tokens', 'revoke', hashSecret('alice-2')), /no such token/);
  assert.equal((await admin(config, 'tokens', 'revoke', '--mxid', BOB)).revoked, 1);
  assert.deepEqual((await admin(config, 'tokens', '--mxid', BOB)).tokens, []);

  const queue = await admin(config, 'onbind', 'list');
  assert.equal(queue.total, 3);
  assert.deepEqual(queue.deliveries.map((d: any) => [d.id, d.mxid, d.attempts, d.lastError]), [['for-alice', ALICE, 2, 'HTTP 502'], ['for-bob', BOB, 2, 'HTTP 502'], ['for-carol', CAROL, 2, 'HTTP 502']]);
  assert.deepEqual((await admin(config, 'onbind', 'list', '--limit', '1')).deliveries.length, 1);
  const before = Date.now();
  assert.equal((await admin(config, 'onbind', 'retry', 'for-bob')).id, 'for-bob');
  const retried = (await admin(config, 'onbind', 'list')).deliveries.find((d: any) => d.id === 'for-bob');
  assert.ok(retried.nextAttemptAt >= before && retried.nextAttemptAt <= Date.now(), 'due now, not in ten hours');
  assert.equal(retried.attempts, 2, 'its attempts so far are kept (the backoff goes on from there)');
  assert.equal((await admin(config, 'onbind', 'drop', 'for-bob')).id, 'for-bob');
  assert.deepEqual((await admin(config, 'onbind', 'list')).deliveries.map((d: any) => d.id), ['for-alice', 'for-carol']);
  await assert.rejects(admin(config, 'onbind', 'drop', 'for-bob'), /no such delivery/);

  assert.deepEqual((await admin(config, 'invites', 'list')).invites.map((i: any) => i.token).sort(), ['from-alice', 'to-alice', 'to-dave', 'to-erin']);
  assert.deepEqual((await admin(config, 'invites', 'list', '--sender', ALICE)).invites.map((i: any) => i.token), ['from-alice']);
  assert.deepEqual((await admin(config, 'invites', 'list', 'email', 'DAVE@example.org', '--sender', BOB)).invites.map((i: any) => i.token), ['to-dave']);
  assert.equal((await admin(config, 'invites', 'drop', 'to-dave')).token, 'to-dave');
  assert.deepEqual((await admin(config, 'invites', 'list', 'email', 'dave@example.org')).invites.map((i: any) => i.token), ['from-alice']);

  const unbound = await admin(config, 'unbind', 'email', 'carol@example.org');
  assert.deepEqual([unbound.mxid, unbound.noticeSent], [CAROL, true]);
  assert.equal(smtp.mails.length, 1, 'the unbind notice, as /unbind sends it');
  assert.deepEqual(smtp.mails[0]!.to, ['carol@example.org']);
  assert.match(smtp.mails[0]!.raw, /@carol:example\.org/);
  await assert.rejects(admin(config, 'unbind', 'email', 'carol@example.org'), /not bound/);

  const erased = await admin(config, 'erase', '--mxid', ALICE);
  assert.deepEqual(erased.erased, { binds: 2, sessions: 1, invites: 1, onbind: 1, invitesSent: 1, tokens: 1, terms: 2 });
  assert.equal(smtp.mails.length, 1, 'an erasure mails no one');
  await assertAliceGone(db);
  assert.deepEqual((await admin(config, 'erase', '--mxid', ALICE)).erased, { binds: 0, sessions: 0, invites: 0, onbind: 0, invitesSent: 0, tokens: 0, terms: 0 }, 'again: nothing left');

  const report = await runAdmin(['erase', 'email', 'bob@example.org', '-c', config]);
  assert.equal(report, 'erased what was held for the 3PID:\n  binds: 1\n  validation sessions: 0\n  invites to the 3PIDs: 0\n  queued onbind deliveries: 0\n');
  assert.equal((await admin(config, 'lookup', 'email', 'bob@example.org')).bind, null);
  assert.ok(!existsSync(join(data, 'admin.sock')), 'the CLI serves no socket');
});

test('with hashStorageType sql, erasing without a server removes the entries from the stored hash tables of every live pepper', async () => {
  const { config, db } = setup({ hashing: { hashStorageType: 'sql' } });
  await seed(db);
  const alice = [{ medium: 'email', address: 'alice@example.org', mxid: ALICE }, { medium: 'msisdn', address: '447700900001', mxid: ALICE }];
  const bob = { medium: 'email', address: 'bob@example.org', mxid: BOB };
  const store = await openSqliteStore(db);
  await store.peppers.swapPepperState(null, { pepper: 'current', altPeppers: ['previous'], rotatedAt: NOW, requestCount: 0 });
  for (const pepper of ['current', 'previous']) await store.hashes.replace(pepper, [[...alice, bob].flatMap((m) => entriesOf(m, pepper))]);
  await store.close();

  assert.equal((await admin(config, 'erase', '--mxid', ALICE)).erased.binds, 2);

  const after = await openSqliteStore(db);
  try {
    for (const pepper of ['current', 'previous']) {
      const hashes = (m: typeof bob) => entriesOf(m, pepper).map((e) => e.hash);
      assert.deepEqual(await after.hashes.lookup(pepper, alice.flatMap(hashes)), [], pepper);
      assert.deepEqual((await after.hashes.lookup(pepper, hashes(bob))).map((e) => e.mxid), [BOB], `${pepper}: Bob stays`);
    }
  } finally {
    await after.close();
  }
});

interface Running {
  base: string;
  stop(): Promise<void>;
}

/** `unisd -c <config>` in its own process, once its admin socket listens. */
async function startUnisd(config: string): Promise<Running> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', config], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  const exited = once(child, 'close');
  let base = '';
  const ready = new Promise<void>((done) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string };
      base ||= /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(entry.msg)?.[1] ?? '';
      if (entry.msg === 'admin socket listening') done();
    });
  });
  await Promise.race([ready, exited.then(([code]) => { throw new Error(`unisd exited (${code}): ${stderr}`); })]);
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test('through a running unisd: commands use its admin socket (mode 0600), and erase makes v1 and hashed v2 lookups find nothing at once', async (t) => {
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const { config, db, data } = setup({ email: { smtp: { host: '127.0.0.1', port: smtp.port } } });
  await seed(db);
  const server = await startUnisd(config);
  t.after(() => server.stop());
  const socket = join(data, 'admin.sock');
  assert.ok(lstatSync(socket).isSocket());
  assert.equal(lstatSync(socket).mode & 0o777, 0o600);

  const v1 = async (medium: string, address: string) => (await fetch(`${server.base}/_matrix/identity/api/v1/lookup?medium=${medium}&address=${encodeURIComponent(address)}`)).json();
  const auth = { authorization: `Bearer ${BOB_TOKEN}` };
  const v2 = async (...threepids: Array<[string, string]>): Promise<Record<string, string>> => {
    const { lookup_pepper: pepper } = await (await fetch(`${server.base}/_matrix/identity/v2/hash_details`, { headers: auth })).json() as { lookup_pepper: string };
    const addresses = threepids.map(([medium, address]) => lookupHash(address, medium, pepper));
    const response = await fetch(`${server.base}/_matrix/identity/v2/lookup`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ addresses, algorithm: 'sha256', pepper }),
    });
    assert.equal(response.status, 200);
    const { mappings } = await response.json() as { mappings: Record<string, string> };
    return Object.fromEntries(Object.entries(mappings).map(([hash, mxid]) => [threepids[addresses.indexOf(hash)]!.join(' '), mxid]));
  };
  const alice: Array<[string, string]> = [['email', 'alice@example.org'], ['msisdn', '447700900001']];
  assert.equal((await v1('email', 'alice@example.org') as { mxid?: string }).mxid, ALICE, 'found before');
  assert.deepEqual(await v2(...alice, ['email', 'bob@example.org']), { 'email alice@example.org': ALICE, 'msisdn 447700900001': ALICE, 'email bob@example.org': BOB });

  // The server holds the store's lock: the CLI could not open it, so this went through the socket.
  const lookup = await admin(config, 'lookup', 'email', 'alice@example.org');
  assert.deepEqual([lookup.via, lookup.bind.mxid], ['server', ALICE]);
  assert.equal((await admin(config, 'binds', '--mxid', ALICE)).binds.length, 2);
  assert.equal((await admin(config, 'tokens', '--mxid', ALICE)).tokens.length, 2);
  assert.equal((await admin(config, 'onbind', 'list')).total, 3);
  assert.equal((await admin(config, 'invites', 'list', '--sender', BOB)).invites.length, 2);
  assert.equal((await admin(config, 'invites', 'drop', 'to-dave')).via, 'server');

  const erased = await admin(config, 'erase', '--mxid', ALICE);
  assert.equal(erased.via, 'server');
  assert.deepEqual(erased.erased, { binds: 2, sessions: 1, invites: 1, onbind: 1, invitesSent: 1, tokens: 2, terms: 2 });
  assert.deepEqual(await v1('email', 'alice@example.org'), {}, 'v1 lookup finds nothing');
  assert.deepEqual(await v1('msisdn', '447700900001'), {});
  assert.deepEqual(await v2(...alice, ['email', 'bob@example.org']), { 'email bob@example.org': BOB }, 'the hash index forgot Alice at once, and only her');

  const unbound = await admin(config, 'unbind', 'email', 'carol@example.org');
  assert.deepEqual([unbound.via, unbound.mxid, unbound.noticeSent], ['server', CAROL, true]);
  assert.deepEqual(smtp.mails.map((m) => m.to), [['carol@example.org']], 'the unbind notice went out from the server; the erasure mailed no one');
  assert.deepEqual(await v2(['email', 'carol@example.org']), {});

  assert.deepEqual(await admin(config, 'onbind', 'retry', 'for-carol'), { command: 'onbind retry', id: 'for-carol', via: 'server' });
  assert.deepEqual(await admin(config, 'onbind', 'drop', 'for-bob'), { command: 'onbind drop', id: 'for-bob', via: 'server' });
  assert.deepEqual((await admin(config, 'onbind', 'list')).deliveries.map((d: any) => d.id), ['for-carol']);
  assert.deepEqual(await admin(config, 'tokens', 'revoke', '--mxid', BOB), { command: 'tokens revoke', revoked: 1, via: 'server' });
  assert.equal((await fetch(`${server.base}/_matrix/identity/v2/hash_details`, { headers: auth })).status, 401, 'Bob\'s token is gone');

  // The printed report, from the CLI in its own process: counts only, no address of anyone.
  const printed = await cli(['admin', 'erase', 'email', 'bob@example.org', '-c', config]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout, 'erased what was held for the 3PID:\n  binds: 1\n  validation sessions: 0\n  invites to the 3PIDs: 0\n  queued onbind deliveries: 0\n');
  assert.deepEqual(await v1('email', 'bob@example.org'), {});

  await server.stop();
  assert.ok(!existsSync(socket), 'the socket goes with the server');
  await assertAliceGone(db).catch((err) => { throw new Error(`after the server stopped: ${err.message}`); });
  assert.equal((await admin(config, 'lookup', 'email', 'alice@example.org')).via, 'store', 'no server: the CLI opens the store itself');
});

test('with admin.enabled false a running server serves no socket, and unisd admin says the store is held, in one line', async (t) => {
  const { config, db, data } = setup({ admin: { enabled: false } });
  await seed(db);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', config], { cwd: root, env, stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = once(child, 'close');
  t.after(async () => { child.kill('SIGTERM'); await exited; });
  await new Promise<void>((done) => createInterface({ input: child.stdout! }).on('line', (line) => { if (line.includes('unisd started')) done(); }));
  assert.ok(!existsSync(join(data, 'admin.sock')));
  const { code, stdout, stderr } = await cli(['admin', 'binds', '--mxid', ALICE, '-c', config]);
  assert.equal(code, 1);
  assert.equal(stdout, '');
  assert.equal(stderr, `unisd: ${db} is in use by another unisd process (${db}.lock is locked), and no admin socket answers for it (is admin.enabled false on that server, or admin.socket different?)\n`);
});

test('bad arguments and refusals: one line "unisd: admin …" on stderr and exit status 1', async () => {
  const { config, db } = setup();
  await seed(db);
  const refused = async (args: string[], pattern: RegExp) => {
    await assert.rejects(runAdmin([...args, '-c', config]), (err: Error) => err instanceof AdminInputError && pattern.test(err.message) && !err.message.includes('\n'));
  };
  await refused([], /admin needs a command/);
  await refused(['frobnicate'], /unknown admin command "frobnicate"/);
  await refused(['lookup', 'email'], /admin lookup takes <medium> <address>/);
  await refused(['lookup', 'fax', '123'], /unknown medium "fax" \(expected email or msisdn\)/);
  await refused(['lookup', 'email', 'not-an-address'], /"not-an-address" is not an email address/);
  await refused(['lookup', 'msisdn', '12'], /is not a phone number/);
  await refused(['binds'], /admin binds needs --mxid/);
  await refused(['binds', '--mxid', 'alice'], /"alice" is not a Matrix user ID/);
  await refused(['binds', '--mxid'], /--mxid needs a value/);
  await refused(['binds', '--mxid', ALICE, 'extra'], /unexpected "extra"/);
  await refused(['erase'], /admin erase takes --mxid <@user:server> or <medium> <address>/);
  await refused(['erase', 'email', 'a@example.org', '--sender', ALICE], /admin erase takes no --sender/);
  await refused(['onbind', 'list', '--limit', 'lots'], /--limit must be a number/);
  await refused(['onbind', 'list', '--limit', '0'], /--limit must be a number from 1 to 10000/);
  await refused(['onbind', 'retry'], /admin onbind retry takes a delivery id/);
  await refused(['tokens', 'revoke'], /takes a token id or --mxid/);
  await refused(['invites', 'drop', 'missing'], /no such invite/);
  await refused(['lookup', 'email', 'a@example.org', '--frob'], /unknown option --frob/);
  const elsewhere = setup({ storage: { sqlite: { path: join(dir, 'nowhere', 'unisd.db') } } });
  await assert.rejects(runAdmin(['erase', '--mxid', ALICE, '-c', elsewhere.config]), { message: `admin: no store at ${join(dir, 'nowhere', 'unisd.db')} (storage.sqlite.path; a relative path is read from the working directory: run unisd admin from the server's)` });
  assert.ok(!existsSync(join(dir, 'nowhere')), 'no empty store was made');
  assert.deepEqual(parseAdminArgs(['erase', '--mxid=@a:example.org', '--config=x.yaml']), { request: { command: 'erase', mxid: '@a:example.org' }, file: 'x.yaml', json: false });

  // And from the command line itself: one line, no stack, exit 1; nothing was changed.
  for (const args of [['admin', 'erase', '--mxid', 'nobody'], ['admin', 'onbind', 'drop', 'missing', '-c', config]]) {
    const { code, stdout, stderr } = await cli(args);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /^unisd: admin (erase: "nobody" is not a Matrix user ID|onbind drop: no such delivery)/);
    assert.equal(stderr.split('\n').filter(Boolean).length, 1, stderr);
  }
  assert.equal((await admin(config, 'binds', '--mxid', ALICE)).binds.length, 2, 'nothing changed');
});

test('the admin socket: mode 0600 from the start, a dead process\'s socket replaced, a live one or a file that is no socket refused, bad requests answered', async (t) => {
  const sockets = join(dir, 'sockets');
  execFileSync('mkdir', ['-p', sockets]);
  const path = join(sockets, 'admin.sock');
  // A socket file whose process died (killed: it could not remove it).
  assert.throws(() => execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' }), /SIGKILL/);
  assert.ok(lstatSync(path).isSocket() && !(await socketAnswers(path)));

  const served = await listenAdminSocket(path, async (line) => `echo ${line}`);
  assert.equal(lstatSync(path).mode & 0o777, 0o600);
  assert.ok(await socketAnswers(path));
  await assert.rejects(listenAdminSocket(path, async () => ''), { message: `admin.socket: ${path} is in use by another unisd process` });
  await served.close();
  assert.ok(!existsSync(path));

  // What the server answers to requests no CLI would send: one error line each, the service never called.
  const untouchable = new Proxy({}, { get: () => { throw new Error('the service was called'); } }) as AdminService;
  const quiet = { info() {}, error() {} } as never;
  const strict = await listenAdminSocket(path, (line) => answerLine(untouchable, line, quiet));
  t.after(() => strict.close()); // also when an assertion fails (a second close changes nothing)
  const ask = async (line: string) => {
    const answered = await askAdminSocket(path, line);
    assert.ok(answered.connected);
    return JSON.parse(answered.answer);
  };
  assert.deepEqual(await ask('not json'), { ok: false, error: 'the request is not JSON' });
  assert.deepEqual(await ask('{"command":"erase"}'), { ok: false, error: 'erase takes --mxid @user:server or <medium> <address>' });
  assert.deepEqual(await ask('{"command":"erase","mxid":{"$ne":""}}'), { ok: false, error: '{"$ne":""} is not a Matrix user ID (expected @user:server)' });
  assert.deepEqual(await ask('{"command":"shell"}'), { ok: false, error: 'unknown admin command "shell"' });
  assert.deepEqual(await ask('x'.repeat(MAX_REQUEST_BYTES + 10)), { ok: false, error: 'request too large' });
  await strict.close();

  writeFileSync(path, 'precious');
  await assert.rejects(listenAdminSocket(path, async () => ''), { message: `admin.socket: ${path} exists and is not a socket (it is never replaced)` });
  await assert.rejects(listenAdminSocket(join(sockets, 'x'.repeat(120)), async () => ''), /too long for a Unix socket/);
});

test('the event bus\'s emitAndWait resolves once every listener finished, a failing one logged and not thrown', async () => {
  const failures: string[] = [];
  const bus = new EventBus((event, err) => failures.push(`${event}: ${(err as Error).message}`));
  const finished: string[] = [];
  let release!: () => void;
  const slow = new Promise<void>((done) => { release = done; });
  bus.on('unbind', async () => { await slow; finished.push('slow'); });
  bus.on('unbind', () => { throw new Error('broken listener'); });
  bus.on('unbind', async () => { finished.push('quick'); });
  let resolved = false;
  const waiting = bus.emitAndWait('unbind', { medium: 'email', address: 'a@example.org', mxid: ALICE }).then(() => { resolved = true; });
  await new Promise((done) => setImmediate(done));
  assert.deepEqual([resolved, finished], [false, ['quick']], 'still waiting for the slow listener');
  release();
  await waiting;
  assert.deepEqual(finished, ['quick', 'slow']);
  assert.deepEqual(failures, ['unbind: broken listener']);
});
