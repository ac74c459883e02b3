/**
 * The real thing: `unisd -c <file>` in its own process, spoken to over sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..');

interface Server {
  child: ChildProcess;
  base: string;
  port: number;
  /** Every log line so far. */
  logs: string[];
  /** The first log entry so far whose message matches. */
  find: (message: RegExp) => Record<string, any> | undefined;
  /** Resolves with the first log entry (current or future) whose message matches and that passes `where`. */
  logged: (message: RegExp, where?: (entry: any) => boolean) => Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

async function startUnisd(configFile: string): Promise<Server> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', configFile], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const entries: Array<Record<string, unknown>> = [];
  const parsed = (line: string): Record<string, unknown> => { try { return JSON.parse(line); } catch { return { msg: line }; } };
  const waiters = new Set<() => boolean>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    logs.push(line);
    entries.push(parsed(line));
    for (const waiter of waiters) if (waiter()) waiters.delete(waiter);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  // 'close', not 'exit': by then every log line was read.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const logged = (message: RegExp, where: (entry: any) => boolean = () => true) => new Promise<Record<string, unknown>>((done) => {
    const check = () => {
      const found = entries.find((entry) => message.test(String(entry.msg)) && where(entry));
      if (found) done(found);
      return found !== undefined;
    };
    if (!check()) waiters.add(check);
  });
  const listening = await Promise.race([
    logged(/^Server listening at /),
    exited.then((code) => { throw new Error(`unisd exited (${code}) before listening: ${stderr}`); }),
  ]);
  const base = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(listening.msg))![1];
  const find = (message: RegExp) => entries.find((entry) => message.test(String(entry.msg)));
  return { child, base, port: Number(new URL(base).port), logs, find, logged, exited };
}

/** Reads one HTTP response (status line, headers, Content-Length body) from a raw socket. */
function readResponse(socket: Socket): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    let data = '';
    socket.setEncoding('utf8');
    socket.on('error', fail);
    socket.on('close', () => fail(new Error(`connection closed after: ${JSON.stringify(data)}`)));
    socket.on('data', (chunk: string) => {
      data += chunk;
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (Buffer.byteLength(data.slice(end + 4)) < length) return;
      done({ status: Number(data.split(' ')[1]), body: data.slice(end + 4, end + 4 + length) });
    });
  });
}

test('unisd serves over a real socket, keeps its signing key, finishes in-flight requests on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-server-'));
  const keyFile = join(dir, 'keys', 'signing.key');
  const dbFile = join(dir, 'unisd.db');
  const configFile = join(dir, 'unisd.yaml');
  // A shutdownTimeout past setTimeout's 2^31-1 ms would fire at once and cut the request in flight.
  writeFileSync(configFile, `server:\n  port: 0\n  name: id.example.test\n  shutdownTimeout: 30d\nlogging:\n  level: info\nstorage:\n  sqlite:\n    path: ${dbFile}\nkeys:\n  path: ${keyFile}\n`);

  // First start: the key is created.
  const first = await startUnisd(configFile);
  t.after(() => first.child.kill('SIGKILL'));
  const versions = await fetch(`${first.base}/_matrix/identity/versions`);
  assert.equal(versions.status, 200);
  // The startup log, written before any request's, says where everything lives and that the key is new.
  await first.logged(/^request completed$/);
  assert.equal(first.find(/^created a new signing key/)?.path, keyFile);
  const started = first.find(/^unisd started$/);
  assert.deepEqual(
    [started?.config, started?.serverName, started?.storage, started?.signingKey],
    [`file ${configFile}`, 'id.example.test', `sqlite ${dbFile}`, keyFile],
  );
  assert.ok(Array.isArray(((await versions.json()) as { versions: string[] }).versions));

  assert.match(readFileSync(keyFile, 'utf8'), /^ed25519 0 [A-Za-z0-9+/]{43}\n$/);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const publicKey = ((await (await fetch(`${first.base}/_matrix/identity/v2/pubkey/ed25519:0`)).json()) as { public_key: string }).public_key;
  assert.match(publicKey, /^[A-Za-z0-9+/]{43}$/);

  // Requests carrying secrets and addresses in their query strings.
  await fetch(`${first.base}/_matrix/identity/v2/hash_details?access_token=secret-token-4711`);
  await fetch(`${first.base}/_matrix/identity/api/v1/lookup?medium=email&address=carol%40example.org`);
  await fetch(`${first.base}/_matrix/identity/v2/nowhere?client_secret=secret-4712&email=dave@example.org`);

  // A request in flight: headers sent, body only partly.
  const body = JSON.stringify({ user_accepts: ['https://example.org/tos'] });
  const socket = connect(first.port, '127.0.0.1');
  await once(socket, 'connect');
  const response = readResponse(socket);
  socket.write(`POST /_matrix/identity/v2/terms HTTP/1.1\r\nHost: id.example.test\r\nAuthorization: Bearer not-a-valid-token\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`);
  // The server has it once it logs its arrival.
  await first.logged(/^incoming request$/, (entry) => entry.req?.method === 'POST' && entry.req?.path === '/_matrix/identity/v2/terms');

  first.child.kill('SIGTERM');
  await first.logged(/^shutting down/);
  // No new connection is served once shutting down (refused, or reset if accepted in the instant before)…
  const refused = connect(first.port, '127.0.0.1');
  const [refusal] = await once(refused, 'error');
  assert.match(String((refusal as NodeJS.ErrnoException).code), /^(ECONNREFUSED|ECONNRESET)$/);
  // …but the request in flight completes, with the store still open (the token is looked up).
  socket.write(body.slice(10));
  const answer = await response;
  assert.equal(answer.status, 401);
  assert.equal(JSON.parse(answer.body).errcode, 'M_UNAUTHORIZED');
  socket.destroy();
  assert.equal(await first.exited, 0);
  assert.ok(!existsSync(`${dbFile}-wal`), 'the store was closed (SQLite removes its WAL on a clean close)');

  const logText = first.logs.join('\n');
  for (const secret of ['secret-token-4711', 'carol', 'secret-4712', 'dave', 'not-a-valid-token', 'access_token', '?']) {
    assert.ok(!logText.includes(secret), `logs do not contain ${secret}`);
  }
  assert.doesNotMatch(logText, /remoteAddress|remotePort|"ip"/, 'no client addresses in logs');
  assert.match(logText, /"path":"\/_matrix\/identity\/v2\/hash_details"/, 'the path is logged');

  // Second start: the same key.
  const second = await startUnisd(configFile);
  t.after(() => second.child.kill('SIGKILL'));
  const again = ((await (await fetch(`${second.base}/_matrix/identity/v2/pubkey/ed25519:0`)).json()) as { public_key: string }).public_key;
  assert.equal(again, publicKey);
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
  assert.ok(!second.logs.some((line) => line.includes('created a new signing key')), 'the key was read, not created');
});

/** A unisd configuration in a fresh directory; `server` lines are added under `server:`. */
function configIn(dir: string, serverLines: string[] = []): { configFile: string; dbFile: string } {
  const dbFile = join(dir, 'unisd.db');
  const configFile = join(dir, 'unisd.yaml');
  writeFileSync(configFile, [
    'server:', '  port: 0', ...serverLines.map((line) => `  ${line}`),
    'logging:', '  level: info',
    'storage:', '  sqlite:', `    path: ${dbFile}`,
    'keys:', `  path: ${join(dir, 'signing.key')}`, '',
  ].join('\n'));
  return { configFile, dbFile };
}

async function connected(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/** Resolves when the server closed the socket (with what it sent first, if anything). */
function closedByServer(socket: Socket): Promise<string> {
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => { received += chunk; });
  socket.on('error', () => {}); // a reset is a close too
  return new Promise((done) => socket.once('close', () => done(received)));
}

test('SIGTERM closes silent, half-sent and idle keep-alive connections at once, closes the store and exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-quiet-'));
  const { configFile, dbFile } = configIn(dir, ['shutdownTimeout: 30s']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));

  const silent = await connected(server.port);
  const halfSent = await connected(server.port);
  halfSent.write('GET /_matrix/identity/versions HTTP/1.1\r\nHost: id.example.test\r\n');
  const idle = await connected(server.port);
  const answered = readResponse(idle);
  idle.write('GET /_matrix/identity/versions HTTP/1.1\r\nHost: id.example.test\r\nConnection: keep-alive\r\n\r\n');
  assert.equal((await answered).status, 200, 'the server accepted the connections before (it accepts in order)');
  idle.removeAllListeners();
  const closed = [silent, halfSent, idle].map(closedByServer);

  server.child.kill('SIGTERM');
  assert.deepEqual(await Promise.all(closed), ['', '', ''], 'closed without an answer');
  assert.equal(await server.exited, 0);
  assert.ok(!server.logs.some((line) => line.includes('timed out')), 'did not wait for server.shutdownTimeout');
  assert.ok(!existsSync(`${dbFile}-wal`), 'the store was closed');
});

test('a request still in flight at server.shutdownTimeout is cut; the store is closed all the same (exit 1)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-cut-'));
  const { configFile, dbFile } = configIn(dir, ['shutdownTimeout: 1s']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));

  const socket = await connected(server.port);
  const cut = closedByServer(socket);
  socket.write('POST /_matrix/identity/v2/terms HTTP/1.1\r\nHost: id.example.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
  await server.logged(/^incoming request$/, (entry) => entry.req?.path === '/_matrix/identity/v2/terms');

  server.child.kill('SIGTERM');
  assert.equal(await cut, '', 'cut without an answer');
  assert.equal(await server.exited, 1);
  assert.ok(server.find(/^shutdown timed out/));
  assert.ok(server.find(/^stopped$/));
  assert.ok(!existsSync(`${dbFile}-wal`), 'the store was closed');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // The timeout only ends the test when the server never stops (the defect: npm's shell or tsx kept it running).
  test(`npm start runs unisd itself: ${signal} to npm stops the server`, { timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'unisd-npm-'));
    const { configFile } = configIn(dir);
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_'))), UNISD_CONFIG: configFile };
    const npm = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => npm.kill('SIGKILL'));
    const exited = once(npm, 'exit');
    let serverPid = 0;
    await new Promise<void>((listening) => createInterface({ input: npm.stdout! }).on('line', (line) => {
      if (!line.includes('Server listening at')) return;
      serverPid = JSON.parse(line).pid;
      listening();
    }));
    t.after(() => { try { process.kill(serverPid, 'SIGKILL'); } catch { /* gone */ } });

    npm.kill(signal);
    assert.deepEqual(await exited, [0, null], 'npm exits 0, as unisd did');
    assert.throws(() => process.kill(serverPid, 0), { code: 'ESRCH' }, 'the server process is gone');
  });
}

test('a second unisd on the same SQLite file is refused with one line naming it; a crashed one leaves no lock behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-lock-'));
  const { configFile, dbFile } = configIn(dir);
  const first = await startUnisd(configFile);
  t.after(() => first.child.kill('SIGKILL'));

  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const second = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', configFile], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  second.stderr!.on('data', (chunk) => { stderr += chunk; });
  const [code] = await once(second, 'exit');
  assert.equal(code, 1);
  assert.equal(stderr, `unisd: storage error (sqlite ${dbFile}): ${dbFile} is in use by another unisd process (${dbFile}.lock is locked)\n`);
  assert.equal((await fetch(`${first.base}/_matrix/identity/versions`)).status, 200, 'the first one serves on');

  first.child.kill('SIGKILL');
  await first.exited;
  const third = await startUnisd(configFile);
  t.after(() => third.child.kill('SIGKILL'));
  third.child.kill('SIGTERM');
  assert.equal(await third.exited, 0);
});

test('200 trickling connections neither hold the server nor its shutdown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-slow-'));
  const { configFile } = configIn(dir, ['shutdownTimeout: 30s']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));

  const slow = await Promise.all(Array.from({ length: 200 }, () => connected(server.port)));
  for (const socket of slow) socket.write('GET /_matrix/identity/versions HTTP/1.1\r\n');
  for (const socket of slow) socket.write('Host: id.example.test\r\nX-Slow: a');
  const closed = slow.map(closedByServer);
  assert.equal((await fetch(`${server.base}/_matrix/identity/versions`)).status, 200, 'others are served meanwhile');

  server.child.kill('SIGTERM');
  await Promise.all(closed);
  assert.equal(await server.exited, 0);
  assert.ok(!server.logs.some((line) => line.includes('timed out')), 'did not wait for server.shutdownTimeout');
});

test('server.headersTimeout cuts off a client that never finishes its headers (408)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-headers-'));
  const { configFile } = configIn(dir, ['headersTimeout: 1s', 'requestTimeout: 1m']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));
  const socket = await connected(server.port);
  const closed = closedByServer(socket);
  socket.write('GET /_matrix/identity/versions HTTP/1.1\r\nHost: id.example.test\r\n');
  assert.match(await closed, /^HTTP\/1\.1 408 /);
});

test('server.requestTimeout cuts off a client that never finishes its body (408)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-request-'));
  const { configFile } = configIn(dir, ['headersTimeout: 1s', 'requestTimeout: 2s']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));
  const socket = await connected(server.port);
  const closed = closedByServer(socket);
  socket.write('POST /_matrix/identity/v2/terms HTTP/1.1\r\nHost: id.example.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
  assert.match(await closed, /^HTTP\/1\.1 408 /);
});

test('server.maxConnections: connections past it are closed as they arrive; the others are served', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-maxconn-'));
  const { configFile } = configIn(dir, ['maxConnections: 3']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));
  const held = [await connected(server.port), await connected(server.port), await connected(server.port)];
  const extra = connect(server.port, '127.0.0.1');
  extra.write('GET /_matrix/identity/versions HTTP/1.1\r\nHost: id.example.test\r\n\r\n');
  assert.equal(await closedByServer(extra), '', 'dropped unanswered');
  const answer = readResponse(held[0]);
  held[0].write('GET /_matrix/identity/versions HTTP/1.1\r\nHost: id.example.test\r\n\r\n');
  assert.equal((await answer).status, 200);
  for (const socket of held) socket.destroy();
});

test('server.keepAliveTimeout: an idle keep-alive connection is told and closed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-keepalive-'));
  const { configFile } = configIn(dir, ['keepAliveTimeout: 1s']);
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));
  const socket = await connected(server.port);
  const closed = closedByServer(socket);
  socket.write('GET /_matrix/identity/versions HTTP/1.1\r\nHost: id.example.test\r\nConnection: keep-alive\r\n\r\n');
  assert.match(await closed, /\r\nkeep-alive: timeout=1\r\n/i);
});

test('the default configuration starts with no error and only the two expected warnings: a new signing key, v1 served', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-server-'));
  const configFile = join(dir, 'unisd.yaml');
  writeFileSync(configFile, [
    'server:', '  port: 0', '  name: id.example.test', 'storage:', '  sqlite:', `    path: ${join(dir, 'unisd.db')}`, 'keys:', `  path: ${join(dir, 'signing.key')}`,
    '',
  ].join('\n'));
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));
  const warnings = server.logs.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.level >= 40);
  assert.deepEqual(warnings.map((entry) => entry.msg.replace(/:.*/s, '')), ['created a new signing key', 'matrix.v1 is on']);
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
});
