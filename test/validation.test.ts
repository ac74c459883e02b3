import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { deepMerge, testApp } from './helpers/app.js';
import { freePort } from './helpers/net.js';
import { TestSmtpServer, header, type ReceivedMail } from './helpers/smtp.js';
import { MatrixError } from '../core/errors.js';
import { hashSecret } from '../core/crypto/tokens.js';
import type { ValidationService } from '../plugins/validation/service.js';

const V2 = '/_matrix/identity/v2';
const V1 = '/_matrix/identity/api/v1';
const PUBLIC_URL = 'https://id.example.test';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Setup {
  app: FastifyInstance;
  smtp: TestSmtpServer;
  auth: Record<string, string>;
}

async function setup(t: TestContext, overrides: Record<string, unknown> = {}): Promise<Setup> {
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const app = await testApp(deepMerge({ server: { publicUrl: PUBLIC_URL }, email: { smtp: smtp.smtpConfig() } }, overrides));
  t.after(() => app.close());
  const token = await app.accounts.issue('@alice:example.org');
  return { app, smtp, auth: { authorization: `Bearer ${token}` } };
}

/** A controlled clock for Date (timers stay real): sessions and rate limits read Date.now(). */
function controlClock(t: TestContext): { tick: (ms: number) => void } {
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  return { tick: (ms) => mock.timers.tick(ms) };
}

const requestEmailToken = (s: Setup, body: unknown, options: Partial<InjectOptions> = {}, prefix = V2) =>
  s.app.inject({ method: 'POST', url: `${prefix}/validate/email/requestToken`, headers: prefix === V2 ? s.auth : {}, payload: body as InjectOptions['payload'], ...options });

const submitToken = (s: Setup, body: Record<string, string>, prefix = V2) =>
  s.app.inject({ method: 'POST', url: `${prefix}/validate/email/submitToken`, headers: prefix === V2 ? s.auth : {}, payload: body });

const getValidated = (s: Setup, sid: string, clientSecret: string, prefix = V2) =>
  s.app.inject({ method: 'GET', url: `${prefix}/3pid/getValidated3pid?${new URLSearchParams({ sid, client_secret: clientSecret })}`, headers: prefix === V2 ? s.auth : {} });

/** The validation link of a mail (its plain-text part). */
function linkIn(mail: ReceivedMail): URL {
  const match = /https?:\/\/\S+\/submitToken\?\S+/.exec(mail.raw);
  assert.ok(match, 'the mail holds a validation link');
  return new URL(match[0]);
}

/** Asks for a token and answers the sid and the link of the mail that was sent. */
async function startSession(s: Setup, clientSecret: string, email = 'alice@example.org', prefix = V2) {
  const since = s.smtp.mails.length;
  const res = await requestEmailToken(s, { client_secret: clientSecret, email, send_attempt: 1 }, {}, prefix);
  assert.equal(res.statusCode, 200, res.body);
  const mail = await s.smtp.nextMail(since);
  return { sid: res.json().sid as string, link: linkIn(mail), mail };
}

const openInBrowser = (s: Setup, link: URL) => s.app.inject({ method: 'GET', url: link.pathname + link.search });

function expectError(res: { statusCode: number; json: () => any }, status: number, errcode: string) {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  assert.equal(res.json().errcode, errcode);
}

test('email on v2: requestToken mails a link on the public URL; the browser opens it; getValidated3pid then answers', async (t) => {
  const s = await setup(t);
  const { sid, link, mail } = await startSession(s, 'monkeys_are_GREAT');
  assert.match(sid, /^[0-9a-zA-Z.=_-]{16,255}$/);
  assert.deepEqual(mail.to, ['alice@example.org']);
  assert.equal(header(mail.raw, 'to'), 'alice@example.org');
  assert.equal(link.origin + link.pathname, `${PUBLIC_URL}${V2}/validate/email/submitToken`);
  assert.equal(link.searchParams.get('sid'), sid);
  assert.equal(link.searchParams.get('client_secret'), 'monkeys_are_GREAT');
  assert.ok(link.searchParams.get('token')!.length >= 40, 'a long email token');

  expectError(await getValidated(s, sid, 'monkeys_are_GREAT'), 400, 'M_SESSION_NOT_VALIDATED');
  await assert.rejects(s.app.validation.requireValidatedSession(sid, 'monkeys_are_GREAT'), (err: MatrixError) => err.errcode === 'M_SESSION_NOT_VALIDATED');

  const page = await openInBrowser(s, link);
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /confirmed/);

  const validated = await getValidated(s, sid, 'monkeys_are_GREAT');
  assert.equal(validated.statusCode, 200);
  const { medium, address, validated_at } = validated.json();
  assert.deepEqual({ medium, address }, { medium: 'email', address: 'alice@example.org' });
  assert.ok(Math.abs(validated_at - Date.now()) < 60_000);
  const session = await s.app.validation.requireValidatedSession(sid, 'monkeys_are_GREAT');
  assert.equal(session.address, 'alice@example.org');
});

test('the link: server.publicUrl with a trailing slash or a path, every value URL-encoded', async (t) => {
  for (const publicUrl of ['https://id.example.test/', 'https://example.test/identity/']) {
    const s = await setup(t, { server: { publicUrl } });
    const { sid, link } = await startSession(s, 'a=b.c_d-0');
    assert.equal(link.origin + link.pathname, `${publicUrl}_matrix/identity/v2/validate/email/submitToken`);
    assert.match(link.search, /client_secret=a%3Db\.c_d-0(&|$)/);
    assert.deepEqual([link.searchParams.get('sid'), link.searchParams.get('client_secret')], [sid, 'a=b.c_d-0']);
    const opened = await s.app.inject({ method: 'GET', url: `${V2}/validate/email/submitToken${link.search}` });
    assert.equal(opened.statusCode, 200, publicUrl);
  }
});

test('with v2 off the link points at v1, and v1 needs no auth', async (t) => {
  const s = await setup(t, { matrix: { v2: false } });
  const { sid, link } = await startSession(s, 'secret', 'alice@example.org', V1);
  assert.equal(link.origin + link.pathname, `${PUBLIC_URL}${V1}/validate/email/submitToken`);
  assert.equal((await openInBrowser(s, link)).statusCode, 200);
  assert.equal((await getValidated(s, sid, 'secret', V1)).json().address, 'alice@example.org');
});

test('send_attempt as a string (matrix-js-sdk), the address normalised: Strauß@Example.com is strauss@example.com', async (t) => {
  const s = await setup(t);
  const res = await requestEmailToken(s, { client_secret: 'secret', email: '  Strauß@Example.com ', send_attempt: '1' });
  assert.equal(res.statusCode, 200, res.body);
  const mail = await s.smtp.nextMail(0);
  assert.deepEqual(mail.to, ['strauss@example.com']);
  const token = linkIn(mail).searchParams.get('token')!;
  assert.deepEqual((await submitToken(s, { sid: res.json().sid, client_secret: 'secret', token })).json(), { success: true });
  assert.equal((await getValidated(s, res.json().sid, 'secret')).json().address, 'strauss@example.com');
});

test('POST submitToken: the right token validates; a wrong one, an unknown session or a malformed value are refused', async (t) => {
  const s = await setup(t);
  const { sid, link } = await startSession(s, 'secret');
  const token = link.searchParams.get('token')!;
  expectError(await submitToken(s, { sid, client_secret: 'secret', token: 'wrong' }), 400, 'M_TOKEN_INCORRECT');
  expectError(await submitToken(s, { sid: 'unknown', client_secret: 'secret', token }), 404, 'M_NO_VALID_SESSION');
  expectError(await submitToken(s, { sid, client_secret: 'other', token }), 404, 'M_NO_VALID_SESSION');
  expectError(await s.app.inject({ method: 'POST', url: `${V2}/validate/msisdn/submitToken`, headers: s.auth, payload: { sid, client_secret: 'secret', token } }), 404, 'M_NO_VALID_SESSION');
  expectError(await submitToken(s, { sid, client_secret: 'sec ret', token }), 400, 'M_INVALID_PARAM');
  expectError(await submitToken(s, { sid, client_secret: 'secret', token: 't'.repeat(256) }), 400, 'M_INVALID_PARAM');
  expectError(await s.app.inject({ method: 'POST', url: `${V2}/validate/email/submitToken`, headers: s.auth, payload: { sid, client_secret: 'secret' } }), 400, 'M_MISSING_PARAMS');
  expectError(await getValidated(s, sid, 'secret'), 400, 'M_SESSION_NOT_VALIDATED');
  expectError(await getValidated(s, sid, 'other'), 404, 'M_NO_VALID_SESSION');

  const ok = await submitToken(s, { sid, client_secret: 'secret', token });
  assert.deepEqual([ok.statusCode, ok.json()], [200, { success: true }]);
  assert.deepEqual((await submitToken(s, { sid, client_secret: 'secret', token })).json(), { success: true }, 'submitting again still succeeds');
  assert.equal((await getValidated(s, sid, 'secret')).statusCode, 200);
});

test('invalid requestToken input is refused with the spec\'s error and sends nothing', async (t) => {
  const s = await setup(t);
  const cases: Array<[unknown, number, string]> = [
    [{ client_secret: 'not allowed!', email: 'alice@example.org', send_attempt: 1 }, 400, 'M_INVALID_PARAM'],
    [{ client_secret: 'x'.repeat(256), email: 'alice@example.org', send_attempt: 1 }, 400, 'M_INVALID_PARAM'],
    [{ client_secret: '', email: 'alice@example.org', send_attempt: 1 }, 400, 'M_INVALID_PARAM'],
    [{ client_secret: 'secret', email: 'not an address', send_attempt: 1 }, 400, 'M_INVALID_EMAIL'],
    [{ client_secret: 'secret', email: 'Alice <alice@example.org>', send_attempt: 1 }, 400, 'M_INVALID_EMAIL'],
    [{ client_secret: 'secret', email: 'alice@example.org\r\nBcc: eve@example.org', send_attempt: 1 }, 400, 'M_INVALID_EMAIL'],
    [{ client_secret: 'secret', email: 'alice@example.org', send_attempt: 'one' }, 400, 'M_INVALID_PARAM'],
    [{ client_secret: 'secret', email: 'alice@example.org', send_attempt: -1 }, 400, 'M_INVALID_PARAM'],
    [{ client_secret: 'secret', email: 'alice@example.org', send_attempt: 1.5 }, 400, 'M_INVALID_PARAM'],
    [{ client_secret: 'secret', email: 'alice@example.org', send_attempt: 1, next_link: 'x'.repeat(3000) }, 400, 'M_INVALID_PARAM'],
    [{ email: 'alice@example.org', send_attempt: 1 }, 400, 'M_MISSING_PARAMS'],
    [{ client_secret: 'secret', send_attempt: 1 }, 400, 'M_MISSING_PARAMS'],
    [{ client_secret: 'secret', email: 'alice@example.org' }, 400, 'M_MISSING_PARAMS'],
    ['{not json', 400, 'M_NOT_JSON'],
  ];
  for (const [body, status, errcode] of cases) {
    const res = await requestEmailToken(s, body, typeof body === 'string' ? { headers: { ...s.auth, 'content-type': 'application/json' } } : {});
    assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().errcode, errcode, JSON.stringify(body));
  }
  assert.equal(s.smtp.mails.length, 0);
});

test('the 24 h window runs from the last change: creation, then validation (controlled clock)', async (t) => {
  const s = await setup(t);
  const clock = controlClock(t);
  const first = await startSession(s, 'first');
  const second = await startSession(s, 'second');

  clock.tick(DAY - 1000);
  const token = first.link.searchParams.get('token')!;
  assert.deepEqual((await submitToken(s, { sid: first.sid, client_secret: 'first', token })).json(), { success: true });

  clock.tick(1000);
  expectError(await submitToken(s, { sid: second.sid, client_secret: 'second', token: second.link.searchParams.get('token')! }), 400, 'M_SESSION_EXPIRED');
  const page = await openInBrowser(s, second.link);
  assert.equal(page.statusCode, 400);
  assert.match(page.body, /expired/);
  assert.equal((await getValidated(s, first.sid, 'first')).statusCode, 200, 'validation renewed the first session');

  clock.tick(DAY - 1000);
  expectError(await getValidated(s, first.sid, 'first'), 400, 'M_SESSION_EXPIRED');
  await assert.rejects(s.app.validation.requireValidatedSession(first.sid, 'first'), (err: MatrixError) => err.statusCode === 400 && err.errcode === 'M_SESSION_EXPIRED');

  const renewed = await startSession(s, 'second');
  assert.notEqual(renewed.sid, second.sid, 'an expired session is replaced by a new one');
});

test('purge: expired sessions are deleted, fresh ones kept', async (t) => {
  const s = await setup(t);
  const clock = controlClock(t);
  const old = await startSession(s, 'old');
  clock.tick(DAY + 1);
  const fresh = await startSession(s, 'fresh');
  assert.equal(await (s.app.validation as ValidationService).purgeExpired(), 1);
  assert.equal(await s.app.store.sessions.get(old.sid), null);
  assert.ok(await s.app.store.sessions.get(fresh.sid));
});

test('purge job: runs every validation.purgeInterval and stops when the app closes', async (t) => {
  mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_800_000_000_000 });
  t.after(() => mock.timers.reset());
  const app = await testApp({ validation: { purgeInterval: '5m' } });
  const purge = mock.method(app.store.sessions, 'deleteBefore');
  mock.timers.tick(5 * 60_000 - 1);
  assert.equal(purge.mock.callCount(), 0);
  mock.timers.tick(1);
  // The job first takes its lease (a store round trip).
  await new Promise(setImmediate);
  assert.equal(purge.mock.callCount(), 1);
  assert.deepEqual(purge.mock.calls[0].arguments, [1_800_000_000_000 + 5 * 60_000 - DAY]);
  mock.timers.tick(5 * 60_000);
  await new Promise(setImmediate);
  assert.equal(purge.mock.callCount(), 2);
  await app.close();
  mock.timers.tick(5 * 60_000);
  await new Promise(setImmediate);
  assert.equal(purge.mock.callCount(), 2);
});

test('resend "always": every request sends again, same sid, validated or not; only the latest token validates', async (t) => {
  const s = await setup(t, { validation: { resend: 'always' } });
  const first = await startSession(s, 'secret');
  const second = await startSession(s, 'secret');
  assert.equal(second.sid, first.sid);
  assert.equal(s.smtp.mails.length, 2);
  const oldToken = first.link.searchParams.get('token')!;
  const newToken = second.link.searchParams.get('token')!;
  assert.notEqual(newToken, oldToken);
  expectError(await submitToken(s, { sid: first.sid, client_secret: 'secret', token: oldToken }), 400, 'M_TOKEN_INCORRECT');
  assert.deepEqual((await submitToken(s, { sid: first.sid, client_secret: 'secret', token: newToken })).json(), { success: true });

  const afterValidation = await startSession(s, 'secret');
  assert.equal(afterValidation.sid, first.sid);
  assert.equal(s.smtp.mails.length, 3, 'a validated session is re-sent too');
  assert.equal((await getValidated(s, first.sid, 'secret')).statusCode, 200, 'and stays validated');
  assert.deepEqual((await submitToken(s, { sid: first.sid, client_secret: 'secret', token: afterValidation.link.searchParams.get('token')! })).json(), { success: true });
});

test('resend "on_new_attempt" (default): the same or a lower send_attempt answers the same sid without sending; a greater one sends, validated or not', async (t) => {
  const s = await setup(t);
  const send = (attempt: number | string) => requestEmailToken(s, { client_secret: 'secret', email: 'alice@example.org', send_attempt: attempt });
  const sid = (await send(1)).json().sid;
  assert.equal((await send('1')).json().sid, sid);
  assert.equal((await send(0)).json().sid, sid);
  assert.equal(s.smtp.mails.length, 1);
  assert.equal((await send(2)).json().sid, sid);
  assert.equal(s.smtp.mails.length, 2);
  assert.equal((await send(2)).json().sid, sid);
  assert.equal(s.smtp.mails.length, 2);
  const token = linkIn(s.smtp.mails[1]).searchParams.get('token')!;
  assert.deepEqual((await submitToken(s, { sid, client_secret: 'secret', token })).json(), { success: true });

  assert.equal((await send(2)).json().sid, sid);
  assert.equal(s.smtp.mails.length, 2, 'validated, same send_attempt: nothing sent');
  assert.equal((await send(3)).json().sid, sid);
  assert.equal(s.smtp.mails.length, 3, 'validated, greater send_attempt: sent');
  assert.equal((await getValidated(s, sid, 'secret')).statusCode, 200, 'and stays validated');
});

test('a re-send stores the new token before the message leaves: the token in the message already validates while it is sent', async (t) => {
  const s = await setup(t);
  await startSession(s, 'secret');
  const send = s.app.mailer.send.bind(s.app.mailer);
  const storedWhenSent: boolean[] = [];
  mock.method(s.app.mailer, 'send', async (kind: Parameters<typeof send>[0], to: string, values: Record<string, string>) => {
    storedWhenSent.push((await s.app.store.sessions.get(values.sid!))?.tokenHash === hashSecret(values.token!));
    return send(kind, to, values);
  });
  assert.equal((await requestEmailToken(s, { client_secret: 'secret', email: 'alice@example.org', send_attempt: 2 })).statusCode, 200);
  assert.deepEqual(storedWhenSent, [true]);
});

test('a re-send of a validated session does not extend it: its lifetime still runs from the validation (controlled clock)', async (t) => {
  const s = await setup(t);
  const clock = controlClock(t);
  const { sid, link } = await startSession(s, 'secret');
  assert.equal((await openInBrowser(s, link)).statusCode, 200);
  clock.tick(DAY - 1000);
  assert.equal((await requestEmailToken(s, { client_secret: 'secret', email: 'alice@example.org', send_attempt: 2 })).json().sid, sid);
  assert.equal(s.smtp.mails.length, 2);
  clock.tick(1000);
  expectError(await getValidated(s, sid, 'secret'), 400, 'M_SESSION_EXPIRED');
});

test('concurrent requestTokens for one (address, client_secret) share one session', async (t) => {
  const s = await setup(t);
  // Both requests look the session up before either creates it: the race a second instance or a retry causes.
  const findSession = s.app.store.sessions.find.bind(s.app.store.sessions);
  let arrived = 0;
  let bothArrived!: () => void;
  const barrier = new Promise<void>((resolve) => { bothArrived = resolve; });
  mock.method(s.app.store.sessions, 'find', async (...args: Parameters<typeof findSession>) => {
    if (++arrived <= 2) {
      if (arrived === 2) bothArrived();
      await barrier;
    }
    return findSession(...args);
  });
  const body = { client_secret: 'secret', email: 'alice@example.org', send_attempt: 1 };
  const answers = await Promise.all([requestEmailToken(s, body), requestEmailToken(s, body)]);
  assert.deepEqual(answers.map((res) => res.statusCode), [200, 200]);
  assert.equal(new Set(answers.map((res) => res.json().sid)).size, 1);
});

test('rate limit per address: 429 M_LIMIT_EXCEEDED with retry_after_ms, nothing sent; allowed again once refilled', async (t) => {
  const s = await setup(t, { validation: { rateLimit: { perAddress: 2, window: '1h' } } });
  const clock = controlClock(t);
  await startSession(s, 'one');
  clock.tick(10 * 60_000);
  await startSession(s, 'two');
  const limited = await requestEmailToken(s, { client_secret: 'three', email: 'ALICE@example.org', send_attempt: 1 });
  expectError(limited, 429, 'M_LIMIT_EXCEEDED');
  // The budget refills continuously, one message every window / perAddress (30 min) from the first send.
  assert.equal(limited.json().retry_after_ms, 20 * 60_000);
  assert.equal(s.smtp.mails.length, 2);
  assert.equal(await s.app.store.sessions.find('email', 'alice@example.org', 'three'), null, 'no session left behind');
  assert.equal((await requestEmailToken(s, { client_secret: 'other', email: 'bob@example.org', send_attempt: 1 })).statusCode, 200, 'other addresses are not limited');

  clock.tick(20 * 60_000);
  assert.equal((await requestEmailToken(s, { client_secret: 'three', email: 'alice@example.org', send_attempt: 1 })).statusCode, 200);
});

test('rate limit per requester IP', async (t) => {
  const s = await setup(t, { validation: { rateLimit: { perRequester: 2 } } });
  const from = (ip: string, email: string) => requestEmailToken(s, { client_secret: 'secret', email, send_attempt: 1 }, { remoteAddress: ip });
  assert.equal((await from('192.0.2.1', 'a@example.org')).statusCode, 200);
  assert.equal((await from('192.0.2.1', 'b@example.org')).statusCode, 200);
  const limited = await from('192.0.2.1', 'c@example.org');
  expectError(limited, 429, 'M_LIMIT_EXCEEDED');
  assert.ok(limited.json().retry_after_ms > 0 && limited.json().retry_after_ms <= HOUR);
  assert.equal((await from('192.0.2.2', 'c@example.org')).statusCode, 200);
  assert.deepEqual(s.smtp.mails.map((mail) => mail.to[0]), ['a@example.org', 'b@example.org', 'c@example.org']);

  // An IPv6 host has a /64 to pick addresses from: the network is the requester.
  assert.equal((await from('2001:db8:1:2::1', 'd@example.org')).statusCode, 200);
  assert.equal((await from('2001:db8:1:2::2', 'e@example.org')).statusCode, 200);
  expectError(await from('2001:db8:1:2:ffff:ffff:ffff:ffff', 'f@example.org'), 429, 'M_LIMIT_EXCEEDED');
  assert.equal((await from('2001:db8:1:3::1', 'f@example.org')).statusCode, 200, 'another /64 is another requester');
});

test('behind a trusted proxy the client is the right-most X-Forwarded-For entry: a forged left-most entry changes nothing', async (t) => {
  const s = await setup(t, { server: { trustProxy: ['127.0.0.1'] }, validation: { rateLimit: { perRequester: 2 } } });
  const via = (remoteAddress: string, forwardedFor: string, email: string) => requestEmailToken(s, { client_secret: 'secret', email, send_attempt: 1 },
    { remoteAddress, headers: { ...s.auth, 'x-forwarded-for': forwardedFor } });
  // nginx appends the peer it saw: whatever the client wrote stays on the left.
  assert.equal((await via('127.0.0.1', '198.51.100.1, 203.0.113.7', 'a@example.org')).statusCode, 200);
  assert.equal((await via('127.0.0.1', '198.51.100.2, 203.0.113.7', 'b@example.org')).statusCode, 200);
  expectError(await via('127.0.0.1', '198.51.100.3, 203.0.113.7', 'c@example.org'), 429, 'M_LIMIT_EXCEEDED');
  assert.equal((await via('127.0.0.1', '203.0.113.8', 'c@example.org')).statusCode, 200, 'another client behind the proxy');
  // A peer that is not a trusted proxy is the client, whatever it forwards.
  assert.equal((await via('192.0.2.50', '203.0.113.9', 'd@example.org')).statusCode, 200);
  assert.equal((await via('192.0.2.50', '203.0.113.10', 'e@example.org')).statusCode, 200);
  expectError(await via('192.0.2.50', '203.0.113.11', 'f@example.org'), 429, 'M_LIMIT_EXCEEDED');
});

test('wrong tokens per session are limited, so codes cannot be guessed; the window reopens', async (t) => {
  const s = await setup(t, { validation: { rateLimit: { perSession: 3, window: '1h' } } });
  const clock = controlClock(t);
  const { sid, link } = await startSession(s, 'secret');
  for (let i = 0; i < 3; i++) expectError(await submitToken(s, { sid, client_secret: 'secret', token: `guess${i}` }), 400, 'M_TOKEN_INCORRECT');
  const token = link.searchParams.get('token')!;
  expectError(await submitToken(s, { sid, client_secret: 'secret', token }), 429, 'M_LIMIT_EXCEEDED');
  assert.equal((await openInBrowser(s, link)).statusCode, 429);
  clock.tick(HOUR);
  assert.deepEqual((await submitToken(s, { sid, client_secret: 'secret', token })).json(), { success: true });
});

test('SMTP down: 400 M_EMAIL_SEND_ERROR (the spec\'s status) and no session is stored', async (t) => {
  const s = await setup(t, { email: { smtp: { host: '127.0.0.1', port: await freePort() } } });
  expectError(await requestEmailToken(s, { client_secret: 'secret', email: 'alice@example.org', send_attempt: 1 }), 400, 'M_EMAIL_SEND_ERROR');
  assert.equal(await s.app.store.sessions.find('email', 'alice@example.org', 'secret'), null);
});

test('a failed re-send changes nothing: the earlier link still validates', async (t) => {
  const s = await setup(t);
  const { sid, link } = await startSession(s, 'secret');
  s.smtp.refused.add('alice@example.org');
  expectError(await requestEmailToken(s, { client_secret: 'secret', email: 'alice@example.org', send_attempt: 2 }), 400, 'M_EMAIL_SEND_ERROR');
  assert.equal((await s.app.store.sessions.get(sid))?.sendAttempt, 1);
  assert.equal((await openInBrowser(s, link)).statusCode, 200);
});

test('v2 routes need an access token (401) except the browser link; v1 routes need none', async (t) => {
  const s = await setup(t);
  const body = { client_secret: 'secret', email: 'alice@example.org', send_attempt: 1 };
  expectError(await requestEmailToken(s, body, { headers: {} }), 401, 'M_UNAUTHORIZED');
  expectError(await requestEmailToken(s, body, { headers: { authorization: 'Bearer not-a-token' } }), 401, 'M_UNAUTHORIZED');
  expectError(await s.app.inject({ method: 'POST', url: `${V2}/validate/msisdn/requestToken`, payload: { client_secret: 's', country: 'GB', phone_number: '07700900001', send_attempt: 1 } }), 401, 'M_UNAUTHORIZED');
  assert.equal(s.smtp.mails.length, 0);

  const { sid, link } = await startSession(s, 'secret', 'alice@example.org', V1);
  const token = link.searchParams.get('token')!;
  expectError(await s.app.inject({ method: 'POST', url: `${V2}/validate/email/submitToken`, payload: { sid, client_secret: 'secret', token } }), 401, 'M_UNAUTHORIZED');
  expectError(await s.app.inject({ method: 'GET', url: `${V2}/3pid/getValidated3pid?sid=${sid}&client_secret=secret` }), 401, 'M_UNAUTHORIZED');
  assert.deepEqual((await submitToken(s, { sid, client_secret: 'secret', token }, V1)).json(), { success: true });
  assert.equal((await getValidated(s, sid, 'secret', V1)).json().medium, 'email');
});

test('terms gate the v2 routes but never the browser link', async (t) => {
  const s = await setup(t, { policy: { policies: { tos: { version: '1', terms: { en: { name: 'ToS', url: 'https://id.example.test/tos' } }, regexp: ['.*'] } } } });
  expectError(await requestEmailToken(s, { client_secret: 'secret', email: 'alice@example.org', send_attempt: 1 }), 403, 'M_TERMS_NOT_SIGNED');
  const { link } = await startSession(s, 'secret', 'alice@example.org', V1);
  const v2Link = new URL(link.pathname.replace(V1, V2) + link.search, PUBLIC_URL);
  assert.equal((await openInBrowser(s, v2Link)).statusCode, 200);
});

test('GET submitToken answers a browser with HTML for every failure, never JSON', async (t) => {
  const s = await setup(t);
  const { sid } = await startSession(s, 'secret');
  const cases: Array<[string, number, RegExp]> = [
    [`sid=${sid}&client_secret=secret&token=wrong`, 400, /M_TOKEN_INCORRECT/],
    [`sid=unknown&client_secret=secret&token=abc`, 404, /M_NO_VALID_SESSION/],
    [`sid=${sid}&client_secret=secret`, 400, /M_MISSING_PARAMS/],
    ['', 400, /M_MISSING_PARAMS/],
    [`sid=${sid}&client_secret=secret&token=a&token=b`, 400, /M_INVALID_PARAM/],
    [`sid=${sid}&client_secret=%3Cscript%3E&token=abc`, 400, /M_INVALID_PARAM/],
  ];
  for (const [query, status, body] of cases) {
    const res = await s.app.inject({ method: 'GET', url: `${V2}/validate/email/submitToken?${query}` });
    assert.equal(res.statusCode, status, query);
    assert.match(String(res.headers['content-type']), /^text\/html/, query);
    assert.match(res.body, /^<!DOCTYPE html>/, query);
    assert.match(res.body, body, query);
    assert.doesNotMatch(res.body, /<script>/, query);
  }
});

test('next_link: an http(s) link is where the browser goes after validating; other schemes get the page', async (t) => {
  const s = await setup(t, { validation: { rateLimit: { perAddress: 0 } } });
  const requestWith = async (clientSecret: string, nextLink: string) => {
    const since = s.smtp.mails.length;
    await requestEmailToken(s, { client_secret: clientSecret, email: 'alice@example.org', send_attempt: 1, next_link: nextLink });
    return linkIn(await s.smtp.nextMail(since));
  };
  const redirected = await openInBrowser(s, await requestWith('one', 'https://app.example.org/done?x=1'));
  assert.equal(redirected.statusCode, 302);
  assert.equal(redirected.headers.location, 'https://app.example.org/done?x=1');

  for (const [i, link] of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', '//evil.example/', '/relative', 'not a url'].entries()) {
    const refused = await openInBrowser(s, await requestWith(`refused${i}`, link));
    assert.equal(refused.statusCode, 200, link);
    assert.equal(refused.headers.location, undefined, link);
  }

  // What a browser would make of the link, as a valid Location header (never a 500 once validated).
  const normalised: Array<[string, string]> = [
    ['https://app.example.org/done?room=€', 'https://app.example.org/done?room=%E2%82%AC'],
    ['https://app.example.org/\r\nSet-Cookie: x=1', 'https://app.example.org/Set-Cookie:%20x=1'],
    [' https://app.example.org/spaced ', 'https://app.example.org/spaced'],
    ['https:\\\\app.example.org\\back', 'https://app.example.org/back'],
  ];
  for (const [i, [link, location]] of normalised.entries()) {
    const res = await openInBrowser(s, await requestWith(`normalised${i}`, link));
    assert.equal(res.statusCode, 302, JSON.stringify(link));
    assert.equal(res.headers.location, location);
  }

  const wrong = await s.app.inject({ method: 'GET', url: `${V2}/validate/email/submitToken?sid=x&client_secret=one&token=wrong` });
  assert.equal(wrong.headers.location, undefined, 'no redirect on failure');
});

test('validation.successTemplate: the operator\'s page; a missing file stops the start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-page-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ok.html'), '<!DOCTYPE html><title>Example</title><p>All set at Example Corp.</p>');
  const s = await setup(t, { validation: { successTemplate: join(dir, 'ok.html') } });
  const { link } = await startSession(s, 'secret');
  const page = await openInBrowser(s, link);
  assert.equal(page.body, '<!DOCTYPE html><title>Example</title><p>All set at Example Corp.</p>');
  await assert.rejects(testApp({ validation: { successTemplate: join(dir, 'missing.html') } }), /validation\.successTemplate/);
});
