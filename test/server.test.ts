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
  const exited = once(child, 'exit').then(([code]) => code as number | null);
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
  return { child, base, port: Number(new URL(base).port), logs, logged, exited };
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
  writeFileSync(configFile, `server:\n  port: 0\n  name: id.example.test\nlogging:\n  level: info\nstorage:\n  sqlite:\n    path: ${dbFile}\nkeys:\n  path: ${keyFile}\n`);

  // First start: the key is created.
  const first = await startUnisd(configFile);
  t.after(() => first.child.kill('SIGKILL'));
  const versions = await fetch(`${first.base}/_matrix/identity/versions`);
  assert.equal(versions.status, 200);
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
});

test('a configuration switching on what is not implemented yet starts with one warning per section, naming the key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-server-'));
  const configFile = join(dir, 'unisd.yaml');
  writeFileSync(configFile, [
    'server:', '  port: 0', '  name: id.example.test', 'storage:', '  sqlite:', `    path: ${join(dir, 'unisd.db')}`, 'keys:', `  path: ${join(dir, 'signing.key')}`,
    'sql:', '  enabled: true', 'synapseSql:', '  enabled: true', 'exec:', '  enabled: true', '',
  ].join('\n'));
  const server = await startUnisd(configFile);
  t.after(() => server.child.kill('SIGKILL'));
  const warnings = server.logs.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.level === 40 && / is true, but /.test(entry.msg));
  assert.deepEqual(warnings.map((entry) => entry.msg.split(' ')[0]), ['sql.enabled', 'synapseSql.enabled', 'exec.enabled']);
  for (const { msg } of warnings) assert.match(msg, /not implemented yet/);
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0);
});
