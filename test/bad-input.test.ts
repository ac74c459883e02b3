/**
 * Nothing a client sends turns into a 500: every identity route, on v1 and v2, is fed malformed
 * bodies and query strings and must answer a Matrix error (or a success) below 500. What Node's
 * HTTP server or Fastify answer themselves (oversized headers, unparsable requests, 405, a server
 * closing) carries a Matrix body too.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
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

/** A unisd app listening on a loopback port, for what only a real socket shows. */
async function listening(t: TestContext, options: Parameters<typeof testApp>[1] = {}): Promise<{ app: FastifyInstance; port: number }> {
  const app = await testApp({}, options);
  t.after(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}

const opened = (port: number): Promise<Socket> => new Promise((resolve, reject) => {
  const socket = connect(port, '127.0.0.1', () => resolve(socket));
  socket.once('error', reject);
});

/** Everything the server writes until it closes the connection. */
const readAll = (socket: Socket): Promise<string> => new Promise((resolve) => {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => { text += chunk; });
  socket.on('error', () => undefined);
  socket.on('close', () => resolve(text));
});

/** Sends `request` as raw bytes and answers the status, headers and JSON body of the reply. */
async function rawRequest(port: number, request: string) {
  const socket = await opened(port);
  const reply = readAll(socket);
  socket.write(request);
  return parseResponse(await reply);
}

function parseResponse(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> };
}

test('oversized headers: 431 with a Matrix body (M_TOO_LARGE), not Fastify\'s', async (t) => {
  const { port } = await listening(t);
  const res = await rawRequest(port, `GET /_matrix/identity/v2 HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.equal(res.status, 431);
  assert.match(res.headers['content-type']!, /^application\/json/);
  assert.deepEqual(res.body, { errcode: 'M_TOO_LARGE', error: 'The request headers are too large' });
});

test('a request Node cannot parse, HTTP/1.1 without Host, an unmet Expect: Matrix bodies', async (t) => {
  const { port } = await listening(t);
  const garbage = await rawRequest(port, 'NOT AN HTTP REQUEST\r\n\r\n');
  assert.equal(garbage.status, 400);
  assert.equal(garbage.body.errcode, 'M_UNRECOGNIZED');
  const chunked = await rawRequest(port, 'POST /_matrix/identity/v2/terms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
  assert.equal(chunked.status, 400);
  assert.equal(chunked.body.errcode, 'M_UNRECOGNIZED');
  const noHost = await rawRequest(port, 'GET /_matrix/identity/v2 HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.equal(noHost.status, 400);
  assert.deepEqual(noHost.body, { errcode: 'M_UNRECOGNIZED', error: 'Missing Host header' });
  const expect = await rawRequest(port, 'POST /_matrix/identity/v2/terms HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
  assert.equal(expect.status, 417);
  assert.equal(expect.body.errcode, 'M_UNRECOGNIZED');
});

test('__proto__ and constructor.prototype in a body: 400 M_BAD_JSON saying why, at any depth and however spelt; nothing changes', async (t) => {
  const TOS = 'https://id.example.test/tos.html';
  const app = await testApp({ policy: { policies: { tos: { version: '1', terms: { en: { name: 'ToS', url: TOS } }, regexp: [] } } } });
  t.after(() => app.close());
  const token = await app.accounts.issue('@alice:example.org');
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  for (const [payload, key] of [
    [`{"user_accepts": ["${TOS}"], "__proto__": {"polluted": true}}`, '"__proto__"'],
    [`{"user_accepts": ["${TOS}"], "x": [{"a": {"__proto__": {"polluted": true}}}]}`, '"__proto__"'],
    [`{"user_accepts": ["${TOS}"], "\\u005f_proto__": {"polluted": true}}`, '"__proto__"'],
    [`{"user_accepts": ["${TOS}"], "constructor": {"prototype": {"polluted": true}}}`, '"constructor.prototype"'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/_matrix/identity/v2/terms', headers, payload });
    assert.equal(res.statusCode, 400, payload);
    assert.equal(res.json().errcode, 'M_BAD_JSON', payload);
    assert.ok(res.json().error.includes(`${key} key`), res.json().error);
  }
  assert.deepEqual(await app.store.terms.accepted('@alice:example.org'), [], 'no refused body was acted on');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);

  const form = await app.inject({ method: 'POST', url: '/_matrix/identity/api/v1/3pid/bind', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '__proto__=x&sid=a' });
  assert.equal(form.json().errcode, 'M_BAD_JSON');
  const fine = await app.inject({ method: 'POST', url: '/_matrix/identity/v2/terms', headers, payload: `{"user_accepts": ["${TOS}"], "constructor": "just a string", "x": "\\u00e9"}` });
  assert.equal(fine.statusCode, 200, 'a "constructor" key without "prototype", and escapes, are fine');
  assert.equal((await app.store.terms.accepted('@alice:example.org')).length, 1);
});

test('405 carries Allow (the path\'s methods and the CORS preflight\'s OPTIONS) and a Matrix body', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  for (const [method, url, allow] of [
    ['DELETE', '/_matrix/identity/v2/terms', 'GET, POST, OPTIONS'],
    ['GET', '/_matrix/identity/v2/3pid/bind', 'POST, OPTIONS'],
    ['PUT', '/_matrix/identity/v2/pubkey/ed25519:0', 'GET, OPTIONS'],
    ['POST', '/_matrix/identity/versions', 'GET, OPTIONS'],
  ] as const) {
    const res = await app.inject({ method, url });
    assert.equal(res.statusCode, 405, `${method} ${url}`);
    assert.equal(res.headers.allow, allow, `${method} ${url}`);
    assert.deepEqual(res.json(), { errcode: 'M_UNRECOGNIZED', error: 'Unsupported method' });
  }
  assert.equal((await app.inject({ method: 'GET', url: '/_matrix/identity/v2/nothing' })).headers.allow, undefined, 'a 404 has no Allow');
});

test('a request arriving while the server closes: 503 with a Matrix body', async (t) => {
  // A request held in flight keeps the connection open through close(); one pipelined behind it
  // after close() began is answered by the closing server, before the held one is let go.
  let arrived!: () => void;
  const held = new Promise<void>((resolve) => { arrived = resolve; });
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let closing!: () => void;
  const closeBegan = new Promise<void>((resolve) => { closing = resolve; });
  let answered!: () => void;
  const secondAnswered = new Promise<void>((resolve) => { answered = resolve; });
  const holdRoute = fp(async (app) => {
    app.get('/hold', async () => { arrived(); await released; return {}; });
    app.addHook('preClose', async () => closing());
    app.addHook('onSend', async (request) => { if (request.url !== '/hold') answered(); });
  });
  const { app, port } = await listening(t, { extra: [holdRoute] });
  const socket = await opened(port);
  const replies = readAll(socket);
  socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
  await held;
  const closed = app.close();
  await closeBegan;
  socket.write('GET /_matrix/identity/v2 HTTP/1.1\r\nHost: x\r\n\r\n');
  await secondAnswered; // queued behind the held one
  release();
  const text = await replies;
  await closed;
  const second = text.slice(text.indexOf('HTTP/1.1', 1));
  const res = parseResponse(second);
  assert.equal(res.status, 503);
  assert.deepEqual(res.body, { errcode: 'M_UNKNOWN', error: 'The server is shutting down' });
});
