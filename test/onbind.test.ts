import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { startFakeHomeserver, federationConfig, type FakeHomeserver } from './helpers/fake-homeserver.js';
import { validatedEmailSession } from './helpers/sessions.js';
import { generateSigningKey, verifyJsonSignature, type SigningKey } from '../core/crypto/signing.js';
import { decodeBase64, encodeBase64 } from '../core/crypto/base64.js';
import { openSqliteStore, type SqliteStore } from '../core/store/sqlite/index.js';
import { ONBIND_PATH } from '../plugins/invites/onbind.js';

const V1 = '/_matrix/identity/api/v1';
const MINUTE = 60_000;

let smtp: TestSmtpServer;
let hs: FakeHomeserver;
before(async () => {
  smtp = await new TestSmtpServer().start();
  hs = await startFakeHomeserver();
});
after(async () => {
  await smtp.stop();
  await hs.close();
});

const config = (extra: Record<string, unknown> = {}) => ({
  email: { smtp: smtp.smtpConfig() }, federation: federationConfig, onbind: { initialBackoff: '1m', maxBackoff: '4m' }, ...extra,
});

async function app(extra: Record<string, unknown> = {}, options: { store?: SqliteStore; signingKey?: SigningKey } = {}): Promise<FastifyInstance> {
  return testApp(config(extra), options);
}

async function storeInvite(server: FastifyInstance, address: string, roomId: string) {
  const res = await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: { medium: 'email', address, room_id: roomId, sender: '@bob:example.org' } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { token: string; public_keys: Array<{ public_key: string; key_validity_url: string }> };
}

async function bindTo(server: FastifyInstance, address: string, mxid: string) {
  const session = await validatedEmailSession(server, smtp, address);
  const res = await server.inject({ method: 'POST', url: `${V1}/3pid/bind`, payload: { sid: session.sid, client_secret: session.clientSecret, mxid } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** After a test that stopped the homeserver, even a failed one: back up for the next (already up: nothing to do). */
const homeserverUp = () => hs.start().catch(() => undefined);

const queued = (server: FastifyInstance) => server.store.onbind.due(Number.MAX_SAFE_INTEGER, 100);

test('a bind hands the pending invites to the bound user\'s homeserver, signed with the long-term key, once', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const delivered = hs.onbinds.length;
  const first = await storeInvite(server, 'Invitee@example.org', '!one:example.org');
  const second = await storeInvite(server, 'invitee@example.org', 'room-two');
  const unrelated = await storeInvite(server, 'someone-else@example.org', '!three:example.org');
  const mxid = `@invitee:${hs.serverName}`;

  const answer = await bindTo(server, 'invitee@example.org', mxid);
  assert.ok(verifyJsonSignature(answer, 'id.example.test', 'ed25519:0', server.signingKey.publicKey), 'the answer, invites included, is signed');
  assert.equal(answer.invites.length, 2);
  for (const [i, stored] of [first, second].entries()) {
    const invite = answer.invites[i];
    assert.deepEqual({ ...invite, signed: undefined }, {
      medium: 'email', address: 'invitee@example.org', mxid, room_id: ['!one:example.org', 'room-two'][i], sender: '@bob:example.org', signed: undefined,
    });
    assert.deepEqual({ ...invite.signed, signatures: undefined }, { mxid, token: stored.token, signatures: undefined });
    // What Synapse does: verify with a key store-invite returned, then ask its key_validity_url.
    const longTerm = stored.public_keys[0];
    assert.ok(verifyJsonSignature(invite.signed, 'id.example.test', 'ed25519:0', decodeBase64(longTerm.public_key)!));
    const check = await server.inject({ method: 'GET', url: `${new URL(longTerm.key_validity_url).pathname}?public_key=${encodeURIComponent(longTerm.public_key)}` });
    assert.deepEqual(check.json(), { valid: true });
  }

  // The bind itself set the delivery off: wait for the worker, do not trigger it.
  await server.onbind.idle();
  assert.equal(hs.onbinds.length, delivered + 1);
  const body = hs.onbinds[delivered] as Record<string, any>;
  assert.equal(body.medium, 'email');
  assert.equal(body.address, 'invitee@example.org');
  assert.equal(body.mxid, mxid);
  assert.deepEqual(body.invites, answer.invites);
  assert.ok(hs.requests.some((r) => r.method === 'POST' && r.path === ONBIND_PATH), 'POST, as Synapse serves it');

  assert.deepEqual(await server.store.invites.find('email', 'invitee@example.org', Date.now()), [], 'delivered invites are no longer pending');
  assert.equal(typeof (await server.store.invites.get(second.token))?.deliveredAt, 'number');
  assert.equal((await server.store.invites.find('email', 'someone-else@example.org', Date.now()))[0]?.token, unrelated.token, 'other addresses keep theirs');
  // A client joining with the mailed ephemeral key can still have it sign for the delivered invite.
  const ephemeral = generateSigningKey();
  const signed = await server.inject({ method: 'POST', url: `${V1}/sign-ed25519`, payload: { mxid, token: first.token, private_key: encodeBase64(ephemeral.secretKey) } });
  assert.equal(signed.statusCode, 200, signed.body);
  assert.ok(verifyJsonSignature(signed.json(), 'id.example.test', 'ed25519:0', ephemeral.publicKey));
  assert.deepEqual(await queued(server), []);

  // Lookups answer the association alone: the invites are for the user's homeserver only.
  const looked = (await server.inject({ method: 'GET', url: `${V1}/lookup?medium=email&address=invitee%40example.org` })).json();
  assert.equal(looked.invites, undefined);
  assert.equal(looked.ts, answer.ts);
  assert.equal(looked.mxid, mxid);
  assert.ok(verifyJsonSignature(looked, 'id.example.test', 'ed25519:0', server.signingKey.publicKey));

  await server.onbind.flush();
  assert.equal(hs.onbinds.length, delivered + 1, 'delivered once');
});

test('a bind without pending invites queues nothing', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const answer = await bindTo(server, 'lonely@example.org', `@lonely:${hs.serverName}`);
  assert.equal(answer.invites, undefined);
  assert.deepEqual(await queued(server), []);
});

test('homeserver hanging, then down, then back: the bind never waits, retries back off, the invite arrives once', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const server = await app();
  t.after(() => server.close());
  const delivered = hs.onbinds.length;
  const stored = await storeInvite(server, 'patient@example.org', '!wait:example.org');
  hs.override(ONBIND_PATH, { hang: true });
  t.after(() => hs.override(ONBIND_PATH, null));

  const answer = await bindTo(server, 'patient@example.org', `@patient:${hs.serverName}`);
  assert.equal(answer.invites.length, 1, 'answered while the homeserver hangs');
  assert.equal((await queued(server)).length, 1);
  assert.equal(hs.onbinds.length, delivered);

  await hs.stop(); // drops the hanging request
  t.after(homeserverUp);
  hs.override(ONBIND_PATH, null);
  await server.onbind.flush();
  const expectQueued = async (attempts: number, retryIn: number) => {
    const [delivery] = await queued(server);
    assert.equal(delivery.attempts, attempts);
    assert.equal(delivery.nextAttemptAt, Date.now() + retryIn, `attempt ${attempts}: retry in ${retryIn / MINUTE} min`);
    assert.equal(typeof delivery.lastError, 'string');
  };
  await expectQueued(1, MINUTE);

  // Not due yet: nothing is attempted.
  t.mock.timers.tick(MINUTE - 1);
  await server.onbind.flush();
  await expectQueued(1, 1);

  t.mock.timers.tick(1);
  await server.onbind.flush();
  await expectQueued(2, 2 * MINUTE);
  t.mock.timers.tick(2 * MINUTE);
  await server.onbind.flush();
  await expectQueued(3, 4 * MINUTE);
  t.mock.timers.tick(4 * MINUTE);
  await server.onbind.flush();
  await expectQueued(4, 4 * MINUTE); // capped at onbind.maxBackoff

  await hs.start();
  t.mock.timers.tick(4 * MINUTE);
  await server.onbind.flush();
  assert.equal(hs.onbinds.length, delivered + 1);
  assert.deepEqual((hs.onbinds[delivered] as { invites: unknown }).invites, answer.invites);
  assert.deepEqual(await queued(server), []);
  assert.notEqual((await server.store.invites.get(stored.token))?.deliveredAt, null);
  t.mock.timers.tick(60 * MINUTE);
  await server.onbind.flush();
  assert.equal(hs.onbinds.length, delivered + 1, 'delivered once');
});

test('what is queued survives a restart and is delivered by the next process', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const dir = mkdtempSync(join(tmpdir(), 'unisd-onbind-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'unisd.db');
  const signingKey = generateSigningKey();
  const open = async () => {
    const store = await openSqliteStore(path);
    return app({}, { store, signingKey });
  };
  const delivered = hs.onbinds.length;

  const first = await open();
  await storeInvite(first, 'restart@example.org', '!restart:example.org');
  await hs.stop();
  t.after(homeserverUp);
  const answer = await bindTo(first, 'restart@example.org', `@restart:${hs.serverName}`);
  await first.onbind.flush();
  assert.equal((await queued(first))[0].attempts, 1);
  await first.close();

  await hs.start();
  t.mock.timers.tick(MINUTE);
  const second = await open();
  t.after(() => second.close());
  await second.onbind.idle(); // started on ready, without a trigger
  assert.equal(hs.onbinds.length, delivered + 1);
  const body = hs.onbinds[delivered] as { invites: Array<{ signed: Record<string, unknown> }> };
  assert.deepEqual(body.invites, answer.invites);
  assert.ok(verifyJsonSignature(body.invites[0].signed, 'id.example.test', 'ed25519:0', signingKey.publicKey));
  assert.deepEqual(await queued(second), []);
});

test('onbind.maxAttempts drops a delivery after its last attempt; the invites stay pending', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const server = await app({ onbind: { initialBackoff: '1m', maxBackoff: '4m', maxAttempts: 2 } });
  t.after(() => server.close());
  const stored = await storeInvite(server, 'giveup@example.org', '!giveup:example.org');
  await hs.stop();
  t.after(homeserverUp);
  await bindTo(server, 'giveup@example.org', `@giveup:${hs.serverName}`);
  await server.onbind.flush();
  assert.equal((await queued(server))[0].attempts, 1);
  t.mock.timers.tick(MINUTE);
  await server.onbind.flush();
  assert.deepEqual(await queued(server), []);
  assert.ok(await server.store.invites.get(stored.token), 'still pending: a later bind sends it again');
});

test('a 3PID bound again to the same user before delivery does not queue its invites twice', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const server = await app();
  t.after(() => server.close());
  t.after(() => { hs.onbindStatus = 200; });
  const delivered = hs.onbinds.length;
  await storeInvite(server, 'again@example.org', '!again:example.org');

  hs.onbindStatus = 500;
  await bindTo(server, 'again@example.org', `@again:${hs.serverName}`);
  await server.onbind.idle();
  await bindTo(server, 'again@example.org', `@again:${hs.serverName}`);
  await server.onbind.idle();
  const waiting = await queued(server);
  assert.equal(waiting.length, 1, 'one delivery queued');

  hs.onbindStatus = 200;
  t.mock.timers.tick(waiting[0].nextAttemptAt - Date.now());
  await server.onbind.flush();
  assert.equal(hs.onbinds.length, delivered + 1, 'delivered once');
  assert.deepEqual(await queued(server), []);
});

test('a homeserver\'s 4xx is final; a 5xx is retried', async (t) => {
  const server = await app();
  t.after(() => server.close());
  t.after(() => { hs.onbindStatus = 200; });
  const delivered = hs.onbinds.length;

  hs.onbindStatus = 500;
  await storeInvite(server, 'flaky@example.org', '!flaky:example.org');
  await bindTo(server, 'flaky@example.org', `@flaky:${hs.serverName}`);
  await server.onbind.idle();
  const [retry] = await queued(server);
  assert.equal(retry.attempts, 1);
  assert.equal(retry.lastError, 'HTTP 500');
  await server.store.onbind.delete(retry.id);

  hs.onbindStatus = 403;
  const refused = await storeInvite(server, 'refused@example.org', '!refused:example.org');
  await bindTo(server, 'refused@example.org', `@refused:${hs.serverName}`);
  await server.onbind.idle();
  assert.deepEqual(await queued(server), [], 'not retried');
  assert.ok(await server.store.invites.get(refused.token), 'not delivered, so still pending');
  assert.equal(hs.onbinds.length, delivered);
});

test('a store failure after the homeserver accepted: the delivery stays queued and is sent again when its lease ends, never lost', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const server = await app();
  t.after(() => server.close());
  const delivered = hs.onbinds.length;
  const stored = await storeInvite(server, 'hiccup@example.org', '!hiccup:example.org');
  const markDelivered = server.store.invites.markDelivered.bind(server.store.invites);
  let failures = 1;
  t.mock.method(server.store.invites, 'markDelivered', async (...args: Parameters<typeof markDelivered>) => {
    if (failures-- > 0) throw new Error('store unavailable');
    return markDelivered(...args);
  });

  await bindTo(server, 'hiccup@example.org', `@hiccup:${hs.serverName}`);
  await server.onbind.idle();
  assert.equal(hs.onbinds.length, delivered + 1);
  const [leased] = await queued(server);
  assert.ok(leased, 'still queued');
  assert.equal(leased.attempts, 0, 'not counted as a failed attempt');
  assert.equal((await server.store.invites.get(stored.token))?.deliveredAt, null);

  t.mock.timers.tick(leased.nextAttemptAt - Date.now());
  await server.onbind.flush();
  assert.equal(hs.onbinds.length, delivered + 2, 'sent again');
  assert.deepEqual(await queued(server), []);
  assert.equal(typeof (await server.store.invites.get(stored.token))?.deliveredAt, 'number');
});
