/**
 * The admin socket: a Unix socket (never TCP) only its owner may use (mode 0600). Made under a
 * temporary name, restricted, then renamed into place, so it is never reachable with wider
 * rights; a socket file left by a dead process is replaced, a live one is refused. One request
 * per connection: a JSON line in, a JSON line out.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { chmod, lstat, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import cluster from 'node:cluster';

/** Largest request line (the requests are a few hundred bytes). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A connection that has not sent its request by then is closed. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Longest Unix socket path (sun_path, with its terminating NUL). */
const MAX_SOCKET_PATH = 107;

export type AdminHandler = (line: string) => Promise<string>;

/** Whether a process answers on the socket at `path` (false: no file, or a file left by a dead process). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const probe = createConnection(path);
    probe.once('connect', () => { probe.destroy(); done(true); });
    probe.once('error', () => done(false));
  });
}

export interface AdminSocket {
  path: string;
  close(): Promise<void>;
}

export async function listenAdminSocket(path: string, handle: AdminHandler): Promise<AdminSocket> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new Error(`admin.socket: ${path} is too long for a Unix socket (at most ${MAX_SOCKET_PATH} bytes)`);
  // The workers of server.workers each serve one; the last to start owns the path.
  const existing = await lstat(path).catch(() => null);
  if (existing && !existing.isSocket()) throw new Error(`admin.socket: ${path} exists and is not a socket (it is never replaced)`);
  if (existing && !cluster.isWorker && await socketAnswers(path)) throw new Error(`admin.socket: ${path} is in use by another unisd process`);
  let open = false;
  /** Connections that have not sent their request yet: closing does not wait for them. */
  const waiting = new Set<Socket>();
  const server = createServer((socket) => {
    if (!open) socket.destroy(); // reached under its temporary name before it was restricted
    else serve(socket, handle, waiting);
  });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  if (Buffer.byteLength(temporary) > MAX_SOCKET_PATH) throw new Error(`admin.socket: ${path} is too long for a Unix socket (its directory's path leaves no room for the temporary name)`);
  server.listen(temporary);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err; })]);
  try {
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (err) {
    server.close();
    await unlink(temporary).catch(() => {});
    throw err;
  }
  const { ino } = await lstat(path);
  open = true;
  return {
    path,
    async close() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      for (const socket of waiting) socket.destroy();
      await closed;
      // Another process (a newer worker) may have put its own socket there since.
      const now = await lstat(path).catch(() => null);
      if (now?.ino === ino) await unlink(path).catch(() => {});
    },
  };
}

function serve(socket: Socket, handle: AdminHandler, waiting: Set<Socket>): void {
  let buffered = '';
  let answered = false;
  waiting.add(socket);
  socket.once('close', () => waiting.delete(socket));
  socket.setEncoding('utf8');
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => {}); // the CLI went away: nothing to answer
  socket.on('data', (chunk: string) => {
    if (answered) return;
    buffered += chunk;
    const end = buffered.indexOf('\n');
    const tooLarge = Buffer.byteLength(end < 0 ? buffered : buffered.slice(0, end)) > MAX_REQUEST_BYTES;
    if (end < 0 && !tooLarge) return;
    answered = true;
    waiting.delete(socket);
    socket.setTimeout(0); // the work may take long (an erasure): the CLI waits
    const reply = tooLarge ? Promise.resolve(JSON.stringify({ ok: false, error: 'request too large' })) : handle(buffered.slice(0, end));
    void reply.then((line) => socket.end(`${line}\n`));
  });
}

/** Sends one request line and resolves with the answer line; rejects with the connection error (ENOENT, ECONNREFUSED, EACCES) before any byte was sent. */
export function askAdminSocket(path: string, line: string): Promise<{ connected: true; answer: string } | { connected: false; code: string | undefined }> {
  return new Promise((done, fail) => {
    let connected = false;
    let answer = '';
    const socket = createConnection(path);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      connected = true;
      socket.write(`${line}\n`);
    });
    socket.on('data', (chunk: string) => { answer += chunk; });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (!connected) done({ connected: false, code: err.code });
      else fail(new Error(`admin socket ${path}: ${err.message}`));
    });
    socket.once('end', () => {
      const end = answer.indexOf('\n');
      if (end < 0) fail(new Error(`admin socket ${path}: the server closed the connection without an answer`));
      else done({ connected: true, answer: answer.slice(0, end) });
    });
  });
}
