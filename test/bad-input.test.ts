/**
 * Nothing a client sends turns into a 500: every identity route, on v1 and v2, is fed malformed
 * bodies and query strings and must answer a Matrix error (or a success) below 500.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testApp } from './helpers/app.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { API_PREFIX } from '../core/api.js';

const BODIES: unknown[] = [
  '', 'null', '[]', '"text"', '42', 'true', '{', '{"a":', '\u0000',
  '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"polluted": true}}}',
];
const FIELD_VALUES: unknown[] = [null, 1, -1, 1.5, true, [], ['x'], {}, { $gt: '' }, '', ' ', 'x'.repeat(10_000), '\u0000', '😀', '../../etc/passwd', '%00'];
const FIELDS = [
  'sid', 'client_secret', 'token', 'email', 'phone_number', 'country', 'send_attempt', 'next_link', 'mxid', 'threepid',
  'medium', 'address', 'room_id', 'sender', 'private_key', 'user_accepts', 'access_token', 'matrix_server_name', 'threepids',
  'algorithm', 'pepper', 'addresses',
];

test('every route answers malformed input with a Matrix error, never a 500', async (t) => {
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const app = await testApp({
    email: { smtp: smtp.smtpConfig() },
    validation: { rateLimit: { perAddress: 0, perRequester: 0, perSession: 0 } },
    policy: { policies: { tos: { version: '1', terms: { en: { name: 'ToS', url: 'https://id.example.test/tos.html' } }, regexp: ['/_matrix/identity/v2/3pid/.*'] } } },
  });
  t.after(() => app.close());
  const token = await app.accounts.issue('@fuzz:example.org');
  await app.store.terms.accept('@fuzz:example.org', [{ policy: 'tos', version: '1' }]);
  const authorization = `Bearer ${token}`;

  let requests = 0;
  const check = async (method: 'GET' | 'POST', url: string, payload?: string) => {
    requests++;
    const res = await app.inject({ method, url, headers: { authorization, 'content-type': 'application/json' }, ...(payload !== undefined ? { payload } : {}) });
    assert.ok(res.statusCode < 500, `${method} ${url} ${payload?.slice(0, 80) ?? ''} → ${res.statusCode} ${res.body.slice(0, 200)}`);
    if (res.statusCode >= 400 && /json/.test(String(res.headers['content-type']))) {
      const body = res.json();
      assert.equal(typeof body.errcode, 'string', `${method} ${url}: errcode`);
      assert.equal(typeof body.error, 'string', `${method} ${url}: error`);
    }
  };

  for (const api of ['v1', 'v2'] as const) {
    for (const route of app.identityApi.for(api)) {
      const url = API_PREFIX[api] + route.url.replace(/:(\w+)/g, 'x');
      if (route.method === 'POST') {
        for (const body of BODIES) await check('POST', url, body as string);
        for (const field of FIELDS) {
          for (const value of FIELD_VALUES) await check('POST', url, JSON.stringify({ [field]: value, sid: 'abc', client_secret: 'secret', medium: 'email' }));
        }
      } else {
        for (const field of FIELDS) {
          for (const value of ['', '%00', '%ZZ', 'x'.repeat(5000), '[]', '{}']) await check('GET', `${url}?${field}=${value}&${field}=twice`);
        }
      }
    }
  }
  assert.ok(requests > 1000, `exercised ${requests} requests`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  assert.equal(smtp.mails.length, 0, 'malformed input never sends a message');
});
