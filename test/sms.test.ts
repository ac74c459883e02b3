import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { deepMerge, testApp } from './helpers/app.js';
import { FakeTwilio } from './helpers/fake-twilio.js';

const V2 = '/_matrix/identity/v2';
const V1 = '/_matrix/identity/api/v1';

async function setup(t: TestContext, overrides: Record<string, unknown> = {}) {
  const twilio = await new FakeTwilio().start();
  t.after(() => twilio.stop());
  const app = await testApp(deepMerge({ sms: twilio.smsConfig() }, overrides));
  t.after(() => app.close());
  const token = await app.accounts.issue('@alice:example.org');
  return { app, twilio, auth: { authorization: `Bearer ${token}` } };
}

const requestSmsToken = (app: FastifyInstance, auth: Record<string, string>, body: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `${V2}/validate/msisdn/requestToken`, headers: auth, payload: body });

const UK_NUMBER = { client_secret: 'secret', country: 'GB', phone_number: '07700 900001', send_attempt: '1' };

test('msisdn: requestToken texts a 6-digit code through Twilio; submitToken with it validates the number', async (t) => {
  const { app, twilio, auth } = await setup(t, { sms: { template: 'Example ID code: {token}' } });
  const res = await requestSmsToken(app, auth, UK_NUMBER);
  assert.equal(res.statusCode, 200, res.body);
  const { sid, ...number } = res.json() as { sid: string; msisdn: string; intl_fmt: string };
  assert.match(sid, /^[0-9a-zA-Z.=_-]+$/);
  assert.deepEqual(number, { msisdn: '447700900001', intl_fmt: '+44 7700 900001' });
  assert.equal(twilio.messages.length, 1);
  const [sms] = twilio.messages;
  assert.equal(sms.to, '+447700900001');
  assert.equal(sms.from, twilio.from);
  const code = /^Example ID code: (\d{6})$/.exec(sms.body)?.[1];
  assert.ok(code, sms.body);

  const wrong = await app.inject({ method: 'POST', url: `${V2}/validate/msisdn/submitToken`, headers: auth, payload: { sid, client_secret: 'secret', token: code === '000000' ? '111111' : '000000' } });
  assert.equal(wrong.json().errcode, 'M_TOKEN_INCORRECT');
  const viaEmailRoute = await app.inject({ method: 'POST', url: `${V2}/validate/email/submitToken`, headers: auth, payload: { sid, client_secret: 'secret', token: code } });
  assert.equal(viaEmailRoute.json().errcode, 'M_NO_VALID_SESSION');
  const ok = await app.inject({ method: 'POST', url: `${V2}/validate/msisdn/submitToken`, headers: auth, payload: { sid, client_secret: 'secret', token: code } });
  assert.deepEqual(ok.json(), { success: true });
  const validated = await app.inject({ method: 'GET', url: `${V2}/3pid/getValidated3pid?sid=${sid}&client_secret=secret`, headers: auth });
  assert.equal(validated.json().medium, 'msisdn');
  assert.equal(validated.json().address, '447700900001');
});

test('msisdn on v1: no auth; an international number whatever the country; the code also works as a link', async (t) => {
  const { app, twilio } = await setup(t);
  const res = await app.inject({ method: 'POST', url: `${V1}/validate/msisdn/requestToken`, payload: { client_secret: 's', country: 'FR', phone_number: '+44 7700 900002', send_attempt: 1 } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(twilio.messages[0].to, '+447700900002');
  const code = /\d{6}/.exec(twilio.messages[0].body)![0];
  const page = await app.inject({ method: 'GET', url: `${V1}/validate/msisdn/submitToken?sid=${res.json().sid}&client_secret=s&token=${code}` });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const validated = await app.inject({ method: 'GET', url: `${V1}/3pid/getValidated3pid?sid=${res.json().sid}&client_secret=s` });
  assert.equal(validated.json().address, '447700900002');
});

test('invalid msisdn input is refused and sends nothing', async (t) => {
  const { app, twilio, auth } = await setup(t);
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ ...UK_NUMBER, phone_number: '123' }, 'M_INVALID_ADDRESS'],
    [{ ...UK_NUMBER, phone_number: 'not a number' }, 'M_INVALID_ADDRESS'],
    [{ ...UK_NUMBER, country: 'XX' }, 'M_INVALID_ADDRESS'],
    [{ ...UK_NUMBER, client_secret: 'bad secret' }, 'M_INVALID_PARAM'],
    [{ ...UK_NUMBER, send_attempt: 'x' }, 'M_INVALID_PARAM'],
    [{ client_secret: 's', phone_number: '07700900001', send_attempt: 1 }, 'M_MISSING_PARAMS'],
    [{ client_secret: 's', country: 'GB', send_attempt: 1 }, 'M_MISSING_PARAMS'],
  ];
  for (const [body, errcode] of cases) {
    const res = await requestSmsToken(app, auth, body);
    assert.equal(res.statusCode, 400, JSON.stringify(body));
    assert.equal(res.json().errcode, errcode, JSON.stringify(body));
  }
  assert.equal(twilio.messages.length, 0);
});

test('gateway failures: M_SEND_ERROR (400, as the spec says) and no session; refused numbers and regions get the spec\'s 400s', async (t) => {
  const { app, twilio, auth } = await setup(t);
  twilio.failure = { status: 500, code: 20500, message: 'Internal Server Error' };
  const failed = await requestSmsToken(app, auth, UK_NUMBER);
  assert.equal(failed.statusCode, 400);
  assert.equal(failed.json().errcode, 'M_SEND_ERROR');
  assert.equal(await app.store.sessions.find('msisdn', '447700900001', 'secret'), null);

  twilio.failure = { status: 400, code: 21408, message: 'Permission to send an SMS has not been enabled for the region' };
  const region = await requestSmsToken(app, auth, UK_NUMBER);
  assert.deepEqual([region.statusCode, region.json().errcode], [400, 'M_DESTINATION_REJECTED']);
  twilio.failure = { status: 400, code: 21211, message: "The 'To' number is not a valid phone number" };
  const number = await requestSmsToken(app, auth, UK_NUMBER);
  assert.deepEqual([number.statusCode, number.json().errcode], [400, 'M_INVALID_ADDRESS']);
  assert.equal(await app.store.sessions.find('msisdn', '447700900001', 'secret'), null);

  twilio.failure = null;
  assert.equal((await requestSmsToken(app, auth, UK_NUMBER)).statusCode, 200);
});

test('wrong Twilio credentials or an unreachable gateway: M_SEND_ERROR', async (t) => {
  const twilio = await new FakeTwilio().start();
  t.after(() => twilio.stop());
  const config = twilio.smsConfig() as { twilio: Record<string, string> };
  const app = await testApp({ sms: { ...config, twilio: { ...config.twilio, authToken: 'wrong' } } });
  t.after(() => app.close());
  const res = await app.inject({ method: 'POST', url: `${V1}/validate/msisdn/requestToken`, payload: UK_NUMBER });
  assert.deepEqual([res.statusCode, res.json().errcode], [400, 'M_SEND_ERROR']);
  assert.equal(twilio.unauthorized, 1);

  const down = await new FakeTwilio().start();
  const downConfig = down.smsConfig();
  await down.stop();
  const app2 = await testApp({ sms: downConfig });
  t.after(() => app2.close());
  const res2 = await app2.inject({ method: 'POST', url: `${V1}/validate/msisdn/requestToken`, payload: UK_NUMBER });
  assert.deepEqual([res2.statusCode, res2.json().errcode], [400, 'M_SEND_ERROR']);
});

test('sms.connector none: msisdn requestToken answers 400 M_UNRECOGNIZED; email is unaffected', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const res = await app.inject({ method: 'POST', url: `${V1}/validate/msisdn/requestToken`, payload: UK_NUMBER });
  assert.deepEqual([res.statusCode, res.json().errcode], [400, 'M_UNRECOGNIZED']);
  assert.match(res.json().error, /SMS/);
  assert.equal((await app.inject({ method: 'POST', url: `${V1}/validate/email/requestToken`, payload: { client_secret: 's', email: 'not an address', send_attempt: 1 } })).json().errcode, 'M_INVALID_EMAIL');
});

test('sms.connector twilio without credentials stops the start naming the key', async () => {
  await assert.rejects(testApp({ sms: { connector: 'twilio', twilio: { authToken: 'x', from: '+15005550006' } } }), /sms\.twilio\.accountSid/);
});
