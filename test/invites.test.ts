import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { TestSmtpServer, header } from './helpers/smtp.js';
import { validatedEmailSession } from './helpers/sessions.js';
import { decodeBase64 } from '../core/crypto/base64.js';
import { generateSigningKey, verifyJsonSignature } from '../core/crypto/signing.js';
import { encodeBase64 } from '../core/crypto/base64.js';
import { redactEmail } from '../plugins/invites/service.js';

const V1 = '/_matrix/identity/api/v1';
const V2 = '/_matrix/identity/v2';

let smtp: TestSmtpServer;
let templateDir: string;
let inviteTemplate: string;
before(async () => {
  smtp = await new TestSmtpServer().start();
  templateDir = mkdtempSync(join(tmpdir(), 'unisd-invites-'));
  inviteTemplate = join(templateDir, 'invite.eml');
  // An operator template using the variables sydent-style templates use.
  writeFileSync(inviteTemplate, [
    'From: %(from)s', 'To: %(to)s', 'Subject: %(sender_display_name)s invited you to %(room_name)s', 'X-Room: %(room_id)s', '',
    'token=%(token)s', 'key=%(ephemeral_private_key)s', 'redacted=%(display_name)s', 'avatar=%(room_avatar_url)s', 'custom=%(custom_field)s', '',
  ].join('\r\n'));
});
after(async () => {
  await smtp.stop();
  rmSync(templateDir, { recursive: true, force: true });
});

async function app(overrides: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return testApp({ email: { smtp: smtp.smtpConfig(), templates: { invite: inviteTemplate } }, server: { publicUrl: 'https://id.example.test/' }, ...overrides });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const invite = (extra: Record<string, unknown> = {}) => ({
  medium: 'email', address: 'Alice@Example.com', room_id: '!room:example.org', sender: '@bob:example.org',
  sender_display_name: 'Bob Smith', room_name: 'Bob\'s Emporium', room_avatar_url: 'mxc://example.org/abc', custom_field: 'extra value', ...extra,
});
const mailField = (raw: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(raw)?.[1];

test('store-invite stores the fields it describes the invitation with, not the body: a large extra field reaches the mail only', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const res = await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite({ padding: 'x'.repeat(500_000), room_name: 42 }) });
  assert.equal(res.statusCode, 200, res.body);
  const stored = await server.store.invites.get(res.json().token);
  assert.deepEqual(stored?.fields, { room_avatar_url: 'mxc://example.org/abc', sender_display_name: 'Bob Smith' });
});

test('store-invite stores the invite, mails it and answers token, keys and a redacted name (v2)', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const token = await server.accounts.issue('@bob:example.org');
  const since = smtp.mails.length;
  const res = await server.inject({ method: 'POST', url: `${V2}/store-invite`, headers: bearer(token), payload: invite() });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.match(body.token, /^[0-9a-zA-Z.=_-]{1,255}$/);
  assert.equal(body.display_name, 'ali...@exa...');
  assert.equal(body.public_key, server.signingKey.publicKeyBase64);
  assert.equal(body.public_keys.length, 2);
  assert.deepEqual(body.public_keys[0], { public_key: server.signingKey.publicKeyBase64, key_validity_url: 'https://id.example.test/_matrix/identity/v2/pubkey/isvalid' });
  assert.equal(body.public_keys[1].key_validity_url, 'https://id.example.test/_matrix/identity/v2/pubkey/ephemeral/isvalid');
  const ephemeral = body.public_keys[1].public_key;
  assert.equal(decodeBase64(ephemeral)?.length, 32);

  // The homeserver's checks of both keys succeed.
  for (const key of body.public_keys) {
    const path = new URL(key.key_validity_url).pathname;
    const check = await server.inject({ method: 'GET', url: `${path}?public_key=${encodeURIComponent(key.public_key)}` });
    assert.deepEqual(check.json(), { valid: true }, path);
  }

  const mail = await smtp.nextMail(since);
  assert.deepEqual(mail.to, ['alice@example.com']);
  assert.equal(header(mail.raw, 'subject'), 'Bob Smith invited you to Bob\'s Emporium');
  assert.equal(header(mail.raw, 'x-room'), '!room:example.org');
  assert.equal(mailField(mail.raw, 'token'), body.token);
  assert.equal(mailField(mail.raw, 'redacted'), 'ali...@exa...');
  assert.equal(mailField(mail.raw, 'avatar'), 'mxc://example.org/abc');
  assert.equal(mailField(mail.raw, 'custom'), 'extra value', 'every request field reaches the template');

  const stored = await server.store.invites.get(body.token);
  assert.ok(stored);
  assert.equal(stored.address, 'alice@example.com');
  assert.equal(stored.sender, '@bob:example.org');
  assert.equal(stored.roomId, '!room:example.org');
  assert.deepEqual(stored.fields, { room_name: 'Bob\'s Emporium', room_avatar_url: 'mxc://example.org/abc', sender_display_name: 'Bob Smith' },
    'only the spec\'s display fields are stored, not every field of the body');
  assert.equal(stored.ephemeralPublicKey, ephemeral);
  assert.ok(stored.expiresAt - stored.createdAt === 7 * 24 * 3_600_000, 'invites.lifetime defaults to 7 days');
});

test('sign-ed25519 signs {mxid, sender, token} with the mailed ephemeral key (v1 and v2)', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const since = smtp.mails.length;
  const stored = (await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite() })).json();
  const privateKey = mailField((await smtp.nextMail(since)).raw, 'key')!;
  assert.match(privateKey, /^[A-Za-z0-9+/]{43}$/, 'unpadded base64 of the 32-byte seed');
  const ephemeralPublicKey = decodeBase64(stored.public_keys[1].public_key)!;
  const token = await server.accounts.issue('@alice:example.com');

  for (const [url, headers] of [[`${V2}/sign-ed25519`, bearer(token)], [`${V1}/sign-ed25519`, {}]] as const) {
    const res = await server.inject({ method: 'POST', url, headers, payload: { mxid: '@alice:example.com', token: stored.token, private_key: privateKey } });
    assert.equal(res.statusCode, 200, res.body);
    const signed = res.json();
    assert.deepEqual({ ...signed, signatures: undefined }, { mxid: '@alice:example.com', sender: '@bob:example.org', token: stored.token, signatures: undefined });
    assert.deepEqual(Object.keys(signed.signatures['id.example.test']), ['ed25519:0']);
    assert.ok(verifyJsonSignature(signed, 'id.example.test', 'ed25519:0', ephemeralPublicKey), 'verifies with the ephemeral public key');
    assert.ok(!verifyJsonSignature(signed, 'id.example.test', 'ed25519:0', server.signingKey.publicKey));
  }

  const call = (payload: Record<string, unknown>) => server.inject({ method: 'POST', url: `${V2}/sign-ed25519`, headers: bearer(token), payload });
  const expectError = async (payload: Record<string, unknown>, status: number, errcode: string) => {
    const res = await call(payload);
    assert.equal(res.statusCode, status, JSON.stringify(payload));
    assert.equal(res.json().errcode, errcode);
  };
  const good = { mxid: '@alice:example.com', token: stored.token, private_key: privateKey };
  await expectError({ ...good, token: 'unknown' }, 404, 'M_UNRECOGNIZED');
  await expectError({ ...good, private_key: 'not base64!' }, 400, 'M_INVALID_PARAM');
  await expectError({ ...good, private_key: encodeBase64(new Uint8Array(16)) }, 400, 'M_INVALID_PARAM');
  await expectError({ ...good, mxid: 'alice' }, 400, 'M_INVALID_PARAM');
  await expectError({ mxid: good.mxid, token: good.token }, 400, 'M_MISSING_PARAMS');
  const unauthenticated = await server.inject({ method: 'POST', url: `${V2}/sign-ed25519`, payload: good });
  assert.equal(unauthenticated.statusCode, 401);

  // A 64-byte secret key (seed + public key) works too, if its halves agree.
  const other = generateSigningKey();
  const full = await call({ ...good, private_key: encodeBase64(other.secretKey) });
  assert.ok(verifyJsonSignature(full.json(), 'id.example.test', 'ed25519:0', other.publicKey));
  const mismatched = new Uint8Array(other.secretKey);
  mismatched.set(generateSigningKey().publicKey, 32);
  await expectError({ ...good, private_key: encodeBase64(mismatched) }, 400, 'M_INVALID_PARAM');
});

test('store-invite errors: medium, address, sender, missing fields, no token; room_id is not checked', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const token = await server.accounts.issue('@bob:example.org');
  const since = smtp.mails.length;
  const call = (payload: Record<string, unknown>, headers: Record<string, string> = bearer(token)) =>
    server.inject({ method: 'POST', url: `${V2}/store-invite`, headers, payload });
  const expectError = async (payload: Record<string, unknown>, status: number, errcode: string, headers?: Record<string, string>) => {
    const res = await call(payload, headers);
    assert.equal(res.statusCode, status, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().errcode, errcode);
  };
  await expectError(invite({ medium: 'msisdn', address: '447700900001' }), 400, 'M_UNRECOGNIZED');
  await expectError(invite({ address: 'not an address' }), 400, 'M_INVALID_EMAIL');
  await expectError(invite({ sender: '@mallory:example.org' }), 403, 'M_UNAUTHORIZED');
  for (const field of ['medium', 'address', 'room_id', 'sender']) {
    const payload: Record<string, unknown> = invite();
    delete payload[field];
    await expectError(payload, 400, 'M_MISSING_PARAMS');
  }
  await expectError(invite(), 401, 'M_UNAUTHORIZED', {});
  assert.equal(smtp.mails.length, since, 'no mail for a refused invite');

  const odd = await call(invite({ room_id: 'room-without-sigil' }));
  assert.equal(odd.statusCode, 200, odd.body);
  assert.equal((await server.store.invites.get(odd.json().token))?.roomId, 'room-without-sigil');
});

test('an address already bound (locally or by a provider) is M_THREEPID_IN_USE with the mxid, and gets no mail', async (t) => {
  const server = await app({ memory: { enabled: true, identities: [{ username: '@frank:example.org', threepids: [{ medium: 'email', address: 'frank@example.org' }] }] } });
  t.after(() => server.close());
  const session = await validatedEmailSession(server, smtp, 'grace@example.org');
  const bound = await server.inject({ method: 'POST', url: `${V1}/3pid/bind`, payload: { sid: session.sid, client_secret: session.clientSecret, mxid: '@grace:example.org' } });
  assert.equal(bound.statusCode, 200);

  const since = smtp.mails.length;
  for (const [address, mxid] of [['GRACE@example.org', '@grace:example.org'], ['frank@example.org', '@frank:example.org']]) {
    const res = await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite({ address }) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().errcode, 'M_THREEPID_IN_USE');
    assert.equal(res.json().mxid, mxid);
    assert.equal(typeof res.json().error, 'string');
  }
  assert.equal(smtp.mails.length, since);
  assert.deepEqual(await server.store.invites.find('email', 'grace@example.org', Date.now()), []);
});

test('the inviter\'s rate limit applies before the "already bound" check, which would otherwise be a free lookup', async (t) => {
  const server = await app({
    invites: { rateLimit: { perInviter: 2 } },
    memory: { enabled: true, identities: [{ username: '@frank:example.org', threepids: [{ medium: 'email', address: 'frank@example.org' }] }] },
  });
  t.after(() => server.close());
  const ask = () => server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite({ address: 'frank@example.org' }) });
  for (let i = 0; i < 2; i++) assert.equal((await ask()).json().errcode, 'M_THREEPID_IN_USE');
  const limited = await ask();
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.equal(limited.json().mxid, undefined, 'no owner past the limit');
});

test('a mail the SMTP server refuses fails store-invite and stores nothing', async (t) => {
  const server = await app();
  t.after(() => server.close());
  smtp.refused.add('refused@example.org');
  t.after(() => smtp.refused.delete('refused@example.org'));
  const res = await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite({ address: 'refused@example.org' }) });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().errcode, 'M_EMAIL_SEND_ERROR');
  assert.deepEqual(await server.store.invites.find('email', 'refused@example.org', Date.now()), []);
});

test('store-invite is rate-limited per address and per inviter: no mail past the limit', async (t) => {
  const server = await app({ invites: { rateLimit: { perAddress: 2, perInviter: 3 } } });
  t.after(() => server.close());
  const mailsBefore = smtp.mails.length;
  const send = (address: string, headers: Record<string, string> = {}) =>
    server.inject({ method: 'POST', url: `${V1}/store-invite`, headers, payload: invite({ address }) });

  assert.equal((await send('often@example.org')).statusCode, 200);
  assert.equal((await send('OFTEN@example.org')).statusCode, 200, 'the same address in another case counts the same');
  const limited = await send('often@example.org');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().errcode, 'M_LIMIT_EXCEEDED');
  assert.ok(limited.json().retry_after_ms > 0);
  // A refused call does not count: this (v1, unauthenticated) client has sent 2, may send a 3rd.
  assert.equal((await send('someone-new@example.org')).statusCode, 200);
  const inviter = await send('yet-another@example.org');
  assert.equal(inviter.statusCode, 429);
  assert.equal(smtp.mails.length, mailsBefore + 3, 'no mail past either limit');

  // On v2 the inviter is the token's user, not the network.
  const token = await server.accounts.issue('@bob:example.org');
  const v2 = await server.inject({ method: 'POST', url: `${V2}/store-invite`, headers: bearer(token), payload: invite({ address: 'another@example.org' }) });
  assert.equal(v2.statusCode, 200, v2.body);
});

test('request fields cannot set the mail\'s own headers', async (t) => {
  const server = await app({ email: { smtp: smtp.smtpConfig() } });
  t.after(() => server.close());
  const since = smtp.mails.length;
  const res = await server.inject({
    method: 'POST', url: `${V1}/store-invite`,
    payload: invite({ from: 'Your Bank <security@bank.example>', to: 'someone@else.example', multipart_boundary: 'x' }),
  });
  assert.equal(res.statusCode, 200, res.body);
  const mail = await smtp.nextMail(since);
  assert.doesNotMatch(header(mail.raw, 'from') ?? '', /bank/);
  assert.match(header(mail.raw, 'to') ?? '', /alice@example\.com/);
  assert.doesNotMatch(mail.raw, /boundary="x"/);
});

test('with v2 off, key_validity_url points at v1; v1 takes any sender', async (t) => {
  const server = await app({ matrix: { v2: false } });
  t.after(() => server.close());
  const res = await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite({ sender: '@anyone:example.net' }) });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json().public_keys.map((k: { key_validity_url: string }) => k.key_validity_url), [
    'https://id.example.test/_matrix/identity/api/v1/pubkey/isvalid', 'https://id.example.test/_matrix/identity/api/v1/pubkey/ephemeral/isvalid',
  ]);
});

test('invites and their ephemeral keys expire after invites.lifetime and are purged', async (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setInterval'], now: Date.now() });
  const server = await app({ invites: { lifetime: '1h' }, validation: { purgeInterval: '2h' } });
  t.after(() => server.close());
  const stored = (await server.inject({ method: 'POST', url: `${V1}/store-invite`, payload: invite() })).json();
  const ephemeral = stored.public_keys[1].public_key;
  const isValid = async () => (await server.inject({ method: 'GET', url: `${V1}/pubkey/ephemeral/isvalid?public_key=${encodeURIComponent(ephemeral)}` })).json().valid;
  const sign = () => server.inject({ method: 'POST', url: `${V1}/sign-ed25519`, payload: { mxid: '@alice:example.com', token: stored.token, private_key: encodeBase64(generateSigningKey().secretKey.subarray(0, 32)) } });
  assert.equal(await isValid(), true);
  assert.equal((await sign()).statusCode, 200);

  t.mock.timers.tick(60 * 60_000 + 1);
  assert.equal(await isValid(), false);
  assert.equal((await sign()).statusCode, 404, 'an expired invite is unknown');
  assert.deepEqual(await server.store.invites.find('email', 'alice@example.com', Date.now()), []);
  assert.ok(await server.store.invites.get(stored.token), 'still in the store until the purge runs');

  t.mock.timers.tick(60 * 60_000);
  // The purge job ran on its interval; let its store call finish.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await server.store.invites.get(stored.token), null);
});

test('display names are redacted', () => {
  assert.equal(redactEmail('alice@example.com'), 'ali...@exa...');
  assert.equal(redactEmail('foo@bar.com'), 'f...@bar...');
  assert.equal(redactEmail('ab@c.d'), 'a...@c...');
  assert.equal(redactEmail('ζωή@παράδειγμα.ελ'), 'ζ...@παρ...');
});
