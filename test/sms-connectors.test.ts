import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { deepMerge, testApp } from './helpers/app.js';
import { FakeHttpGateway, FakeInfobip, FakeOpenMarket, FakeSns } from './helpers/fake-sms-gateways.js';
import { FakeTwilio } from './helpers/fake-twilio.js';

const V1 = '/_matrix/identity/api/v1';

interface Gateway { start(): Promise<unknown>; stop(): Promise<void> }

async function started<G extends Gateway>(t: TestContext, gateway: G): Promise<G> {
  await gateway.start();
  t.after(() => gateway.stop());
  return gateway;
}

async function appWith(t: TestContext, sms: Record<string, unknown>, overrides: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = await testApp(deepMerge({ sms }, overrides));
  t.after(() => app.close());
  return app;
}

let secrets = 0;
/** requestToken for a number (international), each call a new session. */
const requestToken = (app: FastifyInstance, phoneNumber: string) => app.inject({
  method: 'POST',
  url: `${V1}/validate/msisdn/requestToken`,
  payload: { client_secret: `secret${++secrets}`, country: 'GB', phone_number: phoneNumber, send_attempt: 1 },
});

const outcome = (res: { statusCode: number; json(): { errcode?: string } }) => [res.statusCode, res.json().errcode];
const codeIn = (text: string) => /\b\d{6}\b/.exec(text)?.[0];

test('openmarket: the code goes out as sydent sends it (JSON mobileTerminate, basic auth, digits without +, sender of the calling code)', async (t) => {
  const openmarket = await started(t, new FakeOpenMarket());
  const app = await appWith(t, deepMerge(openmarket.smsConfig({ 44: 'long:447700900000', default: 'alpha:Example' }), { template: 'Code: {token}' }));
  const res = await requestToken(app, '+44 7700 900001');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(openmarket.messages.length, 1);
  const [sent] = openmarket.messages;
  assert.deepEqual(sent, {
    message: { content: sent!.message.content, type: 'text' },
    destination: { address: '447700900001' },
    source: { ton: 1, address: '447700900000' },
  });
  assert.match(sent!.message.content, /^Code: \d{6}$/);
  assert.equal(String(openmarket.requests[0]!.headers['content-type']), 'application/json');

  assert.equal((await requestToken(app, '+33 6 12 34 56 78')).statusCode, 200);
  assert.deepEqual(openmarket.messages[1]!.source, { ton: 5, address: 'Example' });
});

test('openmarket: among several senders a number always gets the same one; without originators no source is sent', async (t) => {
  const openmarket = await started(t, new FakeOpenMarket());
  const app = await appWith(t, openmarket.smsConfig({ 44: 'long:447700900100, long:447700900200, short:60000' }));
  for (const number of ['+447700900001', '+447700900002', '+447700900001', '+447700900002']) assert.equal((await requestToken(app, number)).statusCode, 200);
  const senders = openmarket.messages.map((message) => message.source?.address);
  // Digit sums 32 and 33 (mod 3: 2 and 0): each number keeps its own sender.
  assert.deepEqual(senders, ['60000', '447700900100', '60000', '447700900100']);
  assert.deepEqual(openmarket.messages[0]!.source, { ton: 3, address: '60000' });

  const plain = await started(t, new FakeOpenMarket());
  const app2 = await appWith(t, plain.smsConfig());
  assert.equal((await requestToken(app2, '+447700900001')).statusCode, 200);
  assert.equal(plain.messages[0]!.source, undefined);
});

test('openmarket: an error answer or a wrong password is M_SEND_ERROR (400) and leaves no session', async (t) => {
  const openmarket = await started(t, new FakeOpenMarket());
  const app = await appWith(t, openmarket.smsConfig());
  openmarket.failure = { status: 400, code: 1001, description: 'Invalid destination address' };
  assert.deepEqual(outcome(await requestToken(app, '+447700900001')), [400, 'M_SEND_ERROR']);
  assert.equal(await app.store.sessions.find('msisdn', '447700900001', `secret${secrets}`), null);

  const config = openmarket.smsConfig() as { openmarket: Record<string, unknown> };
  const wrong = await appWith(t, { ...config, openmarket: { ...config.openmarket, password: 'wrong' } });
  openmarket.failure = null;
  assert.deepEqual(outcome(await requestToken(wrong, '+447700900001')), [400, 'M_SEND_ERROR']);
  assert.equal(openmarket.messages.length, 0);
});

test('openmarket: bad originators or a missing password stop the start naming the key', async () => {
  await assert.rejects(testApp({ sms: { connector: 'openmarket', openmarket: { username: 'u', password: 'p', originators: { 44: 'mobile:447700900000' } } } }),
    /sms\.openmarket\.originators.*44.*long:<number>/);
  await assert.rejects(testApp({ sms: { connector: 'openmarket', openmarket: { username: 'u', password: 'p', originators: { UK: 'long:447700900000' } } } }),
    /sms\.openmarket\.originators.*UK: expected a calling code/);
  await assert.rejects(testApp({ sms: { connector: 'openmarket', openmarket: { username: 'u' } } }), /sms\.openmarket\.password: required/);
});

test('infobip: one message to the number\'s digits with the sender, authorised as "App <key>"', async (t) => {
  const infobip = await started(t, new FakeInfobip());
  const app = await appWith(t, infobip.smsConfig('ExampleID'));
  const res = await requestToken(app, '+44 7700 900001');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(infobip.messages.length, 1);
  assert.deepEqual({ ...infobip.messages[0], text: undefined }, { to: '447700900001', from: 'ExampleID', text: undefined });
  assert.ok(codeIn(infobip.messages[0]!.text));
  assert.equal(infobip.requests[0]!.headers.authorization, `App ${infobip.apiKey}`);
});

test('infobip: a rejected destination is M_DESTINATION_REJECTED; other rejections and a wrong key are M_SEND_ERROR', async (t) => {
  const infobip = await started(t, new FakeInfobip());
  const app = await appWith(t, infobip.smsConfig());
  infobip.rejectAs = 'REJECTED_DESTINATION';
  assert.deepEqual(outcome(await requestToken(app, '+447700900001')), [400, 'M_DESTINATION_REJECTED']);
  infobip.rejectAs = 'REJECTED_NOT_ENOUGH_CREDITS';
  assert.deepEqual(outcome(await requestToken(app, '+447700900001')), [400, 'M_SEND_ERROR']);
  infobip.rejectAs = null;
  const config = infobip.smsConfig() as { infobip: Record<string, unknown> };
  const wrong = await appWith(t, { ...config, infobip: { ...config.infobip, apiKey: 'wrong' } });
  assert.deepEqual(outcome(await requestToken(wrong, '+447700900001')), [400, 'M_SEND_ERROR']);
  assert.equal(infobip.messages.length, 0);
});

test('sns: Publish over the AWS Query protocol, SigV4-signed with the configured keys, to +E.164 with SMS type and sender ID', async (t) => {
  const sns = await started(t, new FakeSns());
  const app = await appWith(t, sns.smsConfig({ senderId: 'ExampleID' }));
  const res = await requestToken(app, '+44 7700 900001');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(sns.badSignatures, 0);
  assert.equal(sns.messages.length, 1);
  const [sent] = sns.messages;
  assert.equal(sent!.phoneNumber, '+447700900001');
  assert.ok(codeIn(sent!.message), sent!.message);
  assert.deepEqual(sent!.attributes, { 'AWS.SNS.SMS.SMSType': 'Transactional', 'AWS.SNS.SMS.SenderID': 'ExampleID' });
  assert.match(String(sns.requests[0]!.headers['content-type']), /^application\/x-www-form-urlencoded/);
});

test('sns: a wrong secret, a refused parameter or a throttled account is M_SEND_ERROR, tried once', async (t) => {
  const sns = await started(t, new FakeSns());
  const wrong = await appWith(t, sns.smsConfig({ secretAccessKey: 'wrong' }));
  assert.deepEqual(outcome(await requestToken(wrong, '+447700900001')), [400, 'M_SEND_ERROR']);
  assert.equal(sns.badSignatures, 1);

  const app = await appWith(t, sns.smsConfig());
  sns.failure = { status: 400, code: 'InvalidParameter', message: 'Invalid parameter: PhoneNumber Reason: +447700900001 is not valid to publish to' };
  assert.deepEqual(outcome(await requestToken(app, '+447700900001')), [400, 'M_SEND_ERROR']);
  sns.failure = { status: 500, code: 'InternalError', message: 'Internal failure' };
  const before = sns.requests.length;
  assert.deepEqual(outcome(await requestToken(app, '+447700900002')), [400, 'M_SEND_ERROR']);
  assert.equal(sns.requests.length, before + 1, 'a failed Publish is not retried (it could text twice)');
  assert.equal(sns.messages.length, 0);
});

test('sns: a secret key without its key ID stops the start naming the key', async () => {
  await assert.rejects(testApp({ sms: { connector: 'sns', sns: { secretAccessKey: 'x' } } }), /sms\.sns\.accessKeyId: required with sms\.sns\.secretAccessKey/);
});

test('http: a JSON body from the template ({to}, {msisdn}, {text}, {secret} at any depth), headers as configured with {secret}', async (t) => {
  const gateway = await started(t, new FakeHttpGateway());
  const app = await appWith(t, gateway.smsConfig({
    secret: 'k3y',
    headers: { Authorization: 'Bearer {secret}', 'X-Tenant': 'example' },
    body: { recipient: { e164: '{to}', digits: '{msisdn}' }, content: 'SMS: {text}', tags: ['{msisdn}'], priority: 1, flash: false, key: '{secret}' },
  }));
  assert.equal((await requestToken(app, '+44 7700 900001')).statusCode, 200);
  const [request] = gateway.requests;
  assert.equal(request!.method, 'POST');
  assert.equal(request!.url, '/send');
  assert.equal(request!.headers.authorization, 'Bearer k3y');
  assert.equal(request!.headers['x-tenant'], 'example');
  assert.equal(request!.headers['content-type'], 'application/json');
  const body = JSON.parse(request!.body);
  assert.ok(codeIn(body.content));
  assert.deepEqual({ ...body, content: undefined }, { recipient: { e164: '+447700900001', digits: '447700900001' }, content: undefined, tags: ['447700900001'], priority: 1, flash: false, key: 'k3y' });
});

test('http: a form body, and a GET with the values URL-encoded into the URL', async (t) => {
  const gateway = await started(t, new FakeHttpGateway());
  const form = await appWith(t, gateway.smsConfig({ method: 'PUT', bodyFormat: 'form', body: { to: '{to}', message: '{text}', unicode: true } }));
  assert.equal((await requestToken(form, '+447700900001')).statusCode, 200);
  const [put] = gateway.requests;
  assert.equal(put!.method, 'PUT');
  assert.equal(put!.headers['content-type'], 'application/x-www-form-urlencoded');
  const fields = new URLSearchParams(put!.body);
  assert.equal(fields.get('to'), '+447700900001');
  assert.equal(fields.get('unicode'), 'true');
  assert.ok(codeIn(fields.get('message')!));

  const get = await appWith(t, gateway.smsConfig({ method: 'GET', bodyFormat: 'none', secret: 'a&b', url: `${gateway.baseUrl}/send?to={to}&text={text}&key={secret}` }));
  assert.equal((await requestToken(get, '+447700900001')).statusCode, 200);
  const url = new URL(gateway.requests[1]!.url, gateway.baseUrl);
  assert.equal(gateway.requests[1]!.method, 'GET');
  assert.equal(gateway.requests[1]!.body, '');
  assert.equal(url.searchParams.get('to'), '+447700900001');
  assert.equal(url.searchParams.get('key'), 'a&b');
  assert.match(url.searchParams.get('text')!, /^Your validation code is \d{6}$/);
});

test('http: a non-2xx answer is M_SEND_ERROR; a GET with a body or a nested form body stops the start naming the key', async (t) => {
  const gateway = await started(t, new FakeHttpGateway());
  const app = await appWith(t, gateway.smsConfig({ body: { to: '{to}', text: '{text}' } }));
  gateway.status = 503;
  assert.deepEqual(outcome(await requestToken(app, '+447700900001')), [400, 'M_SEND_ERROR']);
  gateway.status = 302;
  assert.deepEqual(outcome(await requestToken(app, '+447700900001')), [400, 'M_SEND_ERROR']);

  await assert.rejects(testApp({ sms: gateway.smsConfig({ method: 'GET' }) }), /sms\.http\.bodyFormat: expected none/);
  await assert.rejects(testApp({ sms: gateway.smsConfig({ bodyFormat: 'form', body: { to: { e164: '{to}' } } }) }), /sms\.http\.body\.to: expected text/);
  await assert.rejects(testApp({ sms: { connector: 'http' } }), /sms\.http\.url: expected an http\(s\) URL/);
  await assert.rejects(testApp({ sms: gateway.smsConfig({ headers: { 'Bad Header': 'x' } }) }), /sms\.http\.headers.*Bad Header: expected a header name/);
});

test('rate limits: sms.rateLimit.perNumber texts one number at most N times per window, then 429 with nothing sent', async (t) => {
  const twilio = await started(t, new FakeTwilio());
  const app = await appWith(t, deepMerge(twilio.smsConfig(), { rateLimit: { perNumber: 2 } }));
  assert.equal((await requestToken(app, '+447700900001')).statusCode, 200);
  assert.equal((await requestToken(app, '+447700900001')).statusCode, 200);
  const refused = await requestToken(app, '+447700900001');
  assert.deepEqual(outcome(refused), [429, 'M_LIMIT_EXCEEDED']);
  assert.ok(refused.json().retry_after_ms > 0);
  assert.equal(await app.store.sessions.find('msisdn', '447700900001', `secret${secrets}`), null);
  assert.equal((await requestToken(app, '+447700900002')).statusCode, 200);
  assert.equal(twilio.messages.length, 3);
});

test('rate limits: sms.rateLimit.perCountry bounds texts to many numbers of one country (toll fraud); other countries still pass', async (t) => {
  const twilio = await started(t, new FakeTwilio());
  const app = await appWith(t, deepMerge(twilio.smsConfig(), { rateLimit: { perCountry: 3 } }));
  // Valid French mobiles (region FR); then one in another country.
  for (const number of ['+33612345671', '+33612345672', '+33612345673']) assert.equal((await requestToken(app, number)).statusCode, 200);
  assert.deepEqual(outcome(await requestToken(app, '+33612345674')), [429, 'M_LIMIT_EXCEEDED']);
  assert.equal((await requestToken(app, '+14155550123')).statusCode, 200);
  // Numbers no region claims count under their calling code: one budget for all of them.
  for (const number of ['+447700900001', '+447700900002', '+447700900003']) assert.equal((await requestToken(app, number)).statusCode, 200);
  assert.deepEqual(outcome(await requestToken(app, '+447700900004')), [429, 'M_LIMIT_EXCEEDED']);
  assert.equal(twilio.messages.length, 7);
});

test('sms.countries: outside allow or inside reject (ISO code or calling code) is 400 M_DESTINATION_REJECTED, nothing sent or spent', async (t) => {
  const twilio = await started(t, new FakeTwilio());
  const allowOnly = await appWith(t, deepMerge(twilio.smsConfig(), { countries: { allow: ['FR', 1] }, rateLimit: { perCountry: 1 } }));
  assert.deepEqual(outcome(await requestToken(allowOnly, '+447700900001')), [400, 'M_DESTINATION_REJECTED']);
  assert.equal((await requestToken(allowOnly, '+33612345671')).statusCode, 200);
  assert.equal((await requestToken(allowOnly, '+14155550123')).statusCode, 200, 'calling code 1 is allowed');
  assert.equal(twilio.messages.length, 2);

  const reject = await appWith(t, deepMerge(twilio.smsConfig(), { countries: { reject: ['44', 'FR'] }, rateLimit: { perCountry: 1 } }));
  assert.deepEqual(outcome(await requestToken(reject, '+447700900001')), [400, 'M_DESTINATION_REJECTED']);
  assert.deepEqual(outcome(await requestToken(reject, '+33612345671')), [400, 'M_DESTINATION_REJECTED']);
  assert.deepEqual(outcome(await requestToken(reject, '+33612345671')), [400, 'M_DESTINATION_REJECTED'], 'refusals spend no budget: still not 429');
  assert.equal((await requestToken(reject, '+14155550123')).statusCode, 200);
  assert.equal(twilio.messages.length, 3);

  await assert.rejects(testApp({ sms: deepMerge(twilio.smsConfig(), { countries: { reject: ['United Kingdom'] } }) }), /sms\.countries\.reject: expected a list of countries/);
});
