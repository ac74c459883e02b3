/**
 * Runs an operator's program the safe way: the program and its arguments as an argv array
 * (never a shell, so nothing in an address is ever interpreted), its own process group (a
 * timeout or an abort kills the program and everything it started), a bounded output, and
 * errors that say what went wrong with the program without quoting its input or output
 * (they may hold 3PIDs).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Command {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface RunLimits {
  /** ms: longest run of a lookup command; longest silence of a streaming one. */
  timeout: number;
  /** Largest output of a lookup command, in bytes. */
  maxOutputBytes: number;
}

export class ExecError extends Error {
  override name = 'ExecError';
}

/** What the program inherits from unisd's environment: enough to run, none of unisd's secrets (UNISD_* variables). */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

function inheritedEnv(): Record<string, string> {
  return Object.fromEntries(INHERITED.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name] as string]])));
}

interface Running {
  child: ChildProcess;
  /** Settles when the program ended and its output closed: its exit code, or the signal that ended it. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the program's whole process group (the program and what it started). */
  kill(): void;
}

function start(cmd: Command, input: string): Running {
  const child = spawn(cmd.command, cmd.args, {
    shell: false,
    // Its own process group, so that killing -pid also ends the children a script started.
    detached: true,
    env: { ...inheritedEnv(), ...cmd.env },
    // stderr is not read: it may quote the 3PID, and an unread pipe could block the program.
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  let closed = false;
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    let spawnError: NodeJS.ErrnoException | undefined;
    child.once('error', (err: NodeJS.ErrnoException) => { spawnError = err; });
    child.once('close', (code, signal) => {
      closed = true;
      if (spawnError) reject(new ExecError(`cannot run ${cmd.command}: ${spawnError.code ?? spawnError.message}`));
      else resolve({ code, signal });
    });
  });
  // A program that exits without reading its input makes the write fail with EPIPE: not an error of ours.
  child.stdin?.on('error', () => {});
  child.stdin?.end(input);
  return {
    child,
    ended,
    kill: () => {
      if (closed || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
  };
}

function exitError(cmd: Command, code: number | null, signal: NodeJS.Signals | null): ExecError {
  return new ExecError(code === null ? `${cmd.command} was killed by signal ${signal}` : `${cmd.command} exited with code ${code}`);
}

/**
 * Runs `cmd` with `input` on its standard input and returns its exit code and whole output.
 * Rejects (after killing the process group) when it runs longer than `limits.timeout`, prints
 * more than `limits.maxOutputBytes`, is killed by a signal, cannot be started, or `signal` aborts.
 */
export async function runCommand(cmd: Command, input: string, limits: RunLimits, signal: AbortSignal): Promise<{ code: number; output: string }> {
  signal.throwIfAborted();
  const run = start(cmd, input);
  let failure: ExecError | undefined;
  const stop = (err: ExecError) => {
    failure ??= err;
    run.kill();
  };
  const chunks: Buffer[] = [];
  let size = 0;
  run.child.stdout?.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limits.maxOutputBytes) {
      stop(new ExecError(`${cmd.command} printed more than ${limits.maxOutputBytes} bytes`));
      run.child.stdout?.destroy();
    } else if (!failure) chunks.push(chunk);
  });
  const timer = setTimeout(() => stop(new ExecError(`${cmd.command} ran longer than ${limits.timeout} ms`)), limits.timeout);
  const onAbort = () => stop(new ExecError(`${cmd.command} was stopped: the lookup was abandoned`));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const { code, signal: killedBy } = await run.ended;
    if (failure) throw failure;
    if (code === null) throw exitError(cmd, code, killedBy);
    return { code, output: Buffer.concat(chunks).toString('utf8') };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs `cmd` and yields its output as it comes (UTF-8 text chunks), reading only as fast as the
 * caller consumes, so the program is paused by the pipe rather than buffered in memory. The
 * program is killed when it stays silent longer than `limits.timeout` while being waited for,
 * when `signal` aborts, or when the caller stops early; an exit code outside `success` throws
 * after the last chunk (the caller must not take a partial listing for a whole one).
 */
export async function* streamCommand(cmd: Command, input: string, success: number[], limits: RunLimits, signal: AbortSignal): AsyncGenerator<string> {
  signal.throwIfAborted();
  const run = start(cmd, input);
  run.ended.catch(() => {}); // observed below; a spawn failure also ends the output stream
  const stdout = run.child.stdout!;
  stdout.setEncoding('utf8');
  const chunks = stdout[Symbol.asyncIterator]() as AsyncIterator<string>;
  const waitFor = <T>(step: Promise<T>): Promise<T> => new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ExecError(`${cmd.command} printed nothing for ${limits.timeout} ms`)), limits.timeout);
    const onAbort = () => reject(new ExecError(`${cmd.command} was stopped: the listing was abandoned`));
    signal.addEventListener('abort', onAbort, { once: true });
    step.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
  let finished = false;
  try {
    for (;;) {
      const next = await waitFor(chunks.next());
      if (next.done) break;
      yield next.value;
    }
    const { code, signal: killedBy } = await waitFor(run.ended);
    if (code === null || !success.includes(code)) throw exitError(cmd, code, killedBy);
    finished = true;
  } finally {
    if (!finished) {
      run.kill();
      stdout.destroy();
    }
  }
}
