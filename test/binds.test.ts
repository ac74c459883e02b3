import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testApp } from './helpers/app.js';
import { TestSmtpServer, header } from './helpers/smtp.js';
import { startFakeHomeserver, federationConfig, type FakeHomeserver } from './helpers/fake-homeserver.js';
import { validatedEmailSession } from './helpers/sessions.js';
import { verifyJsonSignature, generateSigningKey } from '../core/crypto/signing.js';
import { decodeBase64 } from '../core/crypto/base64.js';
import { FakeTwilio } from './helpers/fake-twilio.js';

const V1 = '/_matrix/identity/api/v1';
const V2 = '/_matrix/identity/v2';

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

async function app(overrides: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return testApp({ email: { smtp: smtp.smtpConfig() }, federation: federationConfig, ...overrides });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function bind(app: FastifyInstance, body: Record<string, unknown>, token?: string) {
  return app.inject({ method: 'POST', url: `${token ? V2 : V1}/3pid/bind`, headers: token ? bearer(token) : {}, payload: body });
}

async function lookup(app: FastifyInstance, address: string, medium = 'email') {
  return (await app.inject({ method: 'GET', url: `${V1}/lookup?medium=${medium}&address=${encodeURIComponent(address)}` })).json();
}

test('a v2 bind answers the signed association, and v1 lookup returns that very object', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const mxid = '@alice:example.org';
  const token = await server.accounts.issue(mxid);
  const session = await validatedEmailSession(server, smtp, 'Alice@Example.ORG', token);

  const res = await bind(server, { sid: session.sid, client_secret: session.clientSecret, mxid }, token);
  assert.equal(res.statusCode, 200, res.body);
  const association = res.json();
  assert.deepEqual(Object.keys(association).sort(), ['address', 'medium', 'mxid', 'not_after', 'not_before', 'signatures', 'ts']);
  assert.equal(association.medium, 'email');
  assert.equal(association.address, 'alice@example.org', 'the normalised address');
  assert.equal(association.mxid, mxid);
  assert.ok(association.not_before <= association.ts && association.ts < association.not_after);
  assert.deepEqual(Object.keys(association.signatures), ['id.example.test']);
  // What a client does: verify with the key the server publishes.
  const published = (await server.inject({ method: 'GET', url: `${V2}/pubkey/ed25519:0` })).json().public_key;
  assert.ok(verifyJsonSignature(association, 'id.example.test', 'ed25519:0', decodeBase64(published)!), 'signed with the published long-term key');

  assert.deepEqual(await lookup(server, 'alice@example.org'), association);
  assert.deepEqual(await lookup(server, ' ALICE@example.org '), association, 'lookups normalise the address');
});

test('a v1 bind needs no token; a rebind replaces the previous one', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const first = await validatedEmailSession(server, smtp, 'bob@example.org');
  assert.equal((await bind(server, { sid: first.sid, client_secret: first.clientSecret, mxid: '@bob:example.org' })).statusCode, 200);
  const second = await validatedEmailSession(server, smtp, 'bob@example.org');
  const rebound = await bind(server, { sid: second.sid, client_secret: second.clientSecret, mxid: '@robert:example.org' });
  assert.equal(rebound.statusCode, 200);

  assert.deepEqual(await lookup(server, 'bob@example.org'), rebound.json());
  const bulk = await server.inject({ method: 'POST', url: `${V1}/bulk_lookup`, payload: { threepids: [['email', 'bob@example.org']] } });
  assert.deepEqual(bulk.json(), { threepids: [['email', 'bob@example.org', '@robert:example.org']] });
  const stored = [];
  for await (const a of server.store.binds.stream()) stored.push(a.mxid);
  assert.deepEqual(stored, ['@robert:example.org'], 'one bind per 3PID');
});

test('bind errors: someone else\'s mxid, bad mxid, missing fields, unknown/unvalidated/expired sessions, no token', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const token = await server.accounts.issue('@carol:example.org');
  const session = await validatedEmailSession(server, smtp, 'carol@example.org', token);
  const good = { sid: session.sid, client_secret: session.clientSecret, mxid: '@carol:example.org' };
  const expectError = async (res: Awaited<ReturnType<typeof bind>>, status: number, errcode: string) => {
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().errcode, errcode);
    assert.equal(typeof res.json().error, 'string');
  };

  await expectError(await bind(server, { ...good, mxid: '@mallory:example.org' }, token), 403, 'M_UNAUTHORIZED');
  await expectError(await bind(server, { ...good, mxid: 'carol' }, token), 400, 'M_INVALID_PARAM');
  await expectError(await bind(server, { ...good, mxid: '@carol:bad host' }), 400, 'M_INVALID_PARAM');
  await expectError(await bind(server, { sid: good.sid, mxid: good.mxid }, token), 400, 'M_MISSING_PARAMS');
  await expectError(await bind(server, { ...good, client_secret: 'wrong' }, token), 404, 'M_NO_VALID_SESSION');
  await expectError(await bind(server, { ...good, sid: 'unknown' }, token), 404, 'M_NO_VALID_SESSION');
  await expectError(await server.inject({ method: 'POST', url: `${V2}/3pid/bind`, payload: good }), 401, 'M_UNAUTHORIZED');

  const pending = await server.inject({
    method: 'POST', url: `${V2}/validate/email/requestToken`, headers: bearer(token),
    payload: { client_secret: 'pendingsecret', email: 'carol2@example.org', send_attempt: 1 },
  });
  await expectError(await bind(server, { sid: pending.json().sid, client_secret: 'pendingsecret', mxid: good.mxid }, token), 400, 'M_SESSION_NOT_VALIDATED');

  await server.store.sessions.update(session.sid, { updatedAt: Date.now() - 25 * 3_600_000 });
  await expectError(await bind(server, good, token), 400, 'M_SESSION_EXPIRED');

  assert.deepEqual(await lookup(server, 'carol@example.org'), {}, 'no failed bind stored anything');
  assert.deepEqual(await lookup(server, 'carol2@example.org'), {});
});

test('unbind with the session of that 3PID; other sessions, other mxids and no proof change nothing', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const mxid = '@dave:example.org';
  const token = await server.accounts.issue(mxid);
  const session = await validatedEmailSession(server, smtp, 'dave@example.org', token);
  const bound = await bind(server, { sid: session.sid, client_secret: session.clientSecret, mxid }, token);
  assert.equal(bound.statusCode, 200);
  const other = await validatedEmailSession(server, smtp, 'not-dave@example.org', token);
  const threepid = { medium: 'email', address: 'Dave@Example.org' };
  const unbind = (body: Record<string, unknown>, headers: Record<string, string> = bearer(token)) =>
    server.inject({ method: 'POST', url: `${V2}/3pid/unbind`, headers, payload: body });

  const wrongSession = await unbind({ sid: other.sid, client_secret: other.clientSecret, mxid, threepid });
  assert.equal(wrongSession.statusCode, 403);
  assert.equal(wrongSession.json().errcode, 'M_FORBIDDEN');
  const noProof = await unbind({ mxid, threepid }, {});
  assert.equal(noProof.statusCode, 403);
  assert.equal(noProof.json().errcode, 'M_FORBIDDEN');
  const halfProof = await unbind({ sid: session.sid, mxid, threepid });
  assert.equal(halfProof.statusCode, 400);
  assert.equal(halfProof.json().errcode, 'M_MISSING_PARAMS');
  const badSecret = await unbind({ sid: session.sid, client_secret: 'nope', mxid, threepid });
  assert.equal(badSecret.json().errcode, 'M_NO_VALID_SESSION');
  const noThreepid = await unbind({ sid: session.sid, client_secret: session.clientSecret, mxid });
  assert.equal(noThreepid.json().errcode, 'M_MISSING_PARAMS');
  const otherMxid = await unbind({ sid: session.sid, client_secret: session.clientSecret, mxid: '@eve:example.org', threepid });
  assert.equal(otherMxid.statusCode, 200);
  assert.deepEqual(otherMxid.json(), {}, 'not bound to that mxid: nothing to do');
  assert.deepEqual(await lookup(server, 'dave@example.org'), bound.json(), 'still bound after every refused unbind');

  const since = smtp.mails.length;
  const done = await unbind({ sid: session.sid, client_secret: session.clientSecret, mxid, threepid });
  assert.equal(done.statusCode, 200, done.body);
  assert.deepEqual(done.json(), {});
  assert.deepEqual(await lookup(server, 'dave@example.org'), {});
  const notice = await smtp.nextMail(since);
  assert.deepEqual(notice.to, ['dave@example.org']);
  assert.match(header(notice.raw, 'subject') ?? '', /unlinked/);
  assert.match(notice.raw, /@dave:example\.org/);

  const again = await unbind({ sid: session.sid, client_secret: session.clientSecret, mxid, threepid }, {});
  assert.deepEqual(again.json(), {}, 'unknown binding: {} (on v2 without a token too)');
});

test('unbind signed by the user\'s homeserver (X-Matrix), never asked to accept terms', async (t) => {
  const server = await app({
    policy: { policies: { privacy: { version: '1.0', terms: { en: { name: 'Privacy', url: 'https://example.org/privacy' } }, regexp: ['.*'] } } },
  });
  t.after(() => server.close());
  const alice = `@alice:${hs.serverName}`;
  for (const [api, address] of [[V2, 'hs-user@example.org'], [V1, 'hs-user-v1@example.org']] as const) {
    const session = await validatedEmailSession(server, smtp, address);
    assert.equal((await bind(server, { sid: session.sid, client_secret: session.clientSecret, mxid: alice })).statusCode, 200);
    const uri = `${api}/3pid/unbind`;
    const content = { mxid: alice, threepid: { medium: 'email', address } };
    const sign = (body: unknown, key = hs.signingKey) => hs.signRequest({ method: 'POST', uri, destination: 'id.example.test', content: body, key });

    const forged = await server.inject({ method: 'POST', url: uri, headers: { authorization: sign(content, generateSigningKey('fake')) }, payload: content });
    assert.ok([401, 403].includes(forged.statusCode), `${api} forged: ${forged.body}`);
    assert.notEqual(forged.json().errcode, 'M_TERMS_NOT_SIGNED');

    const res = await server.inject({ method: 'POST', url: uri, headers: { authorization: sign(content) }, payload: content });
    assert.equal(res.statusCode, 200, `${api}: ${res.body}`);
    assert.deepEqual(res.json(), {});
    assert.deepEqual(await lookup(server, address), {}, `${api}: unbound`);
  }

  // The origin may only unbind its own users.
  const session = await validatedEmailSession(server, smtp, 'elsewhere@example.org');
  const stranger = '@bob:other.example.org';
  const bound = await bind(server, { sid: session.sid, client_secret: session.clientSecret, mxid: stranger });
  const content = { mxid: stranger, threepid: { medium: 'email', address: 'elsewhere@example.org' } };
  const uri = `${V2}/3pid/unbind`;
  const res = await server.inject({ method: 'POST', url: uri, headers: { authorization: hs.signRequest({ method: 'POST', uri, destination: 'id.example.test', content }) }, payload: content });
  assert.equal(res.statusCode, 403);
  assert.equal(res.json().errcode, 'M_FORBIDDEN');
  assert.deepEqual(await lookup(server, 'elsewhere@example.org'), bound.json());

  // A user's token on v2 meets the terms gate as usual.
  const token = await server.accounts.issue(stranger);
  const gated = await server.inject({
    method: 'POST', url: uri, headers: bearer(token), payload: { ...content, sid: session.sid, client_secret: session.clientSecret },
  });
  assert.equal(gated.json().errcode, 'M_TERMS_NOT_SIGNED');
});

test('v1 lookups: local binds, identity providers, unknown 3PIDs, bulk', async (t) => {
  const server = await app({
    memory: { enabled: true, identities: [{ username: '@frank:example.org', threepids: [{ medium: 'email', address: 'Frank@Example.org' }, { medium: 'msisdn', address: '447700900001' }] }] },
  });
  t.after(() => server.close());
  assert.equal(server.providers.list()[0].name, 'local-bindings', 'local binds answer first');

  const session = await validatedEmailSession(server, smtp, 'grace@example.org');
  const bound = (await bind(server, { sid: session.sid, client_secret: session.clientSecret, mxid: '@grace:example.org' })).json();

  const fromProvider = await lookup(server, 'FRANK@example.org');
  assert.equal(fromProvider.mxid, '@frank:example.org');
  assert.equal(fromProvider.address, 'frank@example.org');
  assert.equal(fromProvider.medium, 'email');
  for (const key of ['ts', 'not_before', 'not_after']) assert.equal(typeof fromProvider[key], 'number', key);
  assert.ok(verifyJsonSignature(fromProvider, 'id.example.test', 'ed25519:0', server.signingKey.publicKey));
  assert.equal((await lookup(server, '447700900001', 'msisdn')).mxid, '@frank:example.org');
  assert.deepEqual(await lookup(server, 'nobody@example.org'), {});

  const bulk = await server.inject({
    method: 'POST', url: `${V1}/bulk_lookup`,
    payload: { threepids: [['email', 'Grace@example.org'], ['email', 'nobody@example.org'], ['email', 'frank@example.org'], ['msisdn', '447700900001']] },
  });
  assert.equal(bulk.statusCode, 200);
  assert.deepEqual(bulk.json(), { threepids: [
    ['email', 'Grace@example.org', bound.mxid], ['email', 'frank@example.org', '@frank:example.org'], ['msisdn', '447700900001', '@frank:example.org'],
  ] });

  const streamed = [];
  for await (const batch of server.providers.list()[0].mappings!(new AbortController().signal)) streamed.push(...batch);
  assert.deepEqual(streamed, [{ medium: 'email', address: 'grace@example.org', mxid: '@grace:example.org' }]);

  const missing = await server.inject({ method: 'GET', url: `${V1}/lookup?medium=email` });
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.json().errcode, 'M_MISSING_PARAMS');
  for (const payload of [{}, { threepids: [['email']] }, { threepids: 'email' }]) {
    const bad = await server.inject({ method: 'POST', url: `${V1}/bulk_lookup`, payload });
    assert.equal(bad.statusCode, 400, JSON.stringify(payload));
    assert.match(bad.json().errcode, /^M_(MISSING|INVALID)_PARAMS?$/);
  }
  // v1 lookups are v1 only: v2 has hashed lookup.
  assert.equal((await server.inject({ method: 'GET', url: `${V2}/lookup?medium=email&address=frank%40example.org` })).json().errcode, 'M_UNRECOGNIZED');
});

test('with matrix.v1 off there are no v1 lookups', async (t) => {
  const server = await app({ matrix: { v1: false } });
  t.after(() => server.close());
  const res = await server.inject({ method: 'GET', url: `${V1}/lookup?medium=email&address=a%40example.org` });
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().errcode, 'M_UNRECOGNIZED');
});

test('an msisdn session binds the E.164 number; lookups and a session unbind accept it in any format', async (t) => {
  const twilio = await new FakeTwilio().start();
  t.after(() => twilio.stop());
  const server = await app({ sms: twilio.smsConfig() });
  t.after(() => server.close());
  const requested = await server.inject({ method: 'POST', url: `${V1}/validate/msisdn/requestToken`, payload: { client_secret: 'smsSecret', country: 'GB', phone_number: '07700 900123', send_attempt: 1 } });
  assert.equal(requested.statusCode, 200, requested.body);
  const { sid } = requested.json();
  const code = /\d{6}/.exec(twilio.messages[0].body)![0];
  assert.deepEqual((await server.inject({ method: 'POST', url: `${V1}/validate/msisdn/submitToken`, payload: { sid, client_secret: 'smsSecret', token: code } })).json(), { success: true });

  const mxid = '@hélène:example.org';
  const bound = await bind(server, { sid, client_secret: 'smsSecret', mxid });
  assert.equal(bound.statusCode, 200, bound.body);
  assert.deepEqual({ medium: bound.json().medium, address: bound.json().address, mxid: bound.json().mxid }, { medium: 'msisdn', address: '447700900123', mxid });
  assert.deepEqual(await lookup(server, '+44 7700 900123', 'msisdn'), bound.json());

  const since = smtp.mails.length;
  const unbound = await server.inject({ method: 'POST', url: `${V1}/3pid/unbind`, payload: { sid, client_secret: 'smsSecret', mxid, threepid: { medium: 'msisdn', address: '+447700900123' } } });
  assert.deepEqual([unbound.statusCode, unbound.json()], [200, {}]);
  assert.deepEqual(await lookup(server, '447700900123', 'msisdn'), {});
  assert.equal(smtp.mails.length, since, 'no mail for a phone number');
});

test('binds: a committed bind and unbind are announced on app.events, after the store has them', async (t) => {
  const server = await app();
  t.after(() => server.close());
  const seen: string[] = [];
  server.events.on('bind', async (e) => { seen.push(`bind ${e.medium} ${e.address} ${e.mxid} stored=${(await server.store.binds.get(e.medium, e.address))?.mxid}`); });
  server.events.on('unbind', (e) => { seen.push(`unbind ${e.medium} ${e.address} ${e.mxid}`); });
  const session = await validatedEmailSession(server, smtp, 'Heidi@example.org');
  await bind(server, { sid: session.sid, client_secret: session.clientSecret, mxid: '@heidi:example.org' });
  const unbound = await server.inject({ method: 'POST', url: `${V1}/3pid/unbind`, payload: { sid: session.sid, client_secret: session.clientSecret, mxid: '@heidi:example.org', threepid: { medium: 'email', address: 'heidi@example.org' } } });
  assert.equal(unbound.statusCode, 200);
  assert.deepEqual(seen, ['bind email heidi@example.org @heidi:example.org stored=@heidi:example.org', 'unbind email heidi@example.org @heidi:example.org']);
});
