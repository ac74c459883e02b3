/**
 * A real `unisd` process for tests: its own directory (SQLite file, signing key, config), started
 * from the sources on a loopback port, its JSON log lines kept and waited on.
 *
 *   const proc = await startUnisd(t, { server: { name: 'id.test' }, ... });   // listening
 *   proc.url                                            // http://127.0.0.1:<port>
 *   await proc.waitForLog((line) => line.msg === 'unified view pushed', 20_000);
 *   await proc.stop();                                  // SIGTERM, waits for the exit (also in t.after)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { deepMerge } from './app.js';
import { freePort } from './net.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');

export type LogLine = Record<string, any>;

export interface UnisdProcess {
  url: string;
  port: number;
  dir: string;
  configFile: string;
  lines: LogLine[];
  /** Resolves with the first line (already logged or to come) that `match` accepts; rejects after `ms`. */
  waitForLog(match: (line: LogLine) => boolean, ms: number, what?: string): Promise<LogLine>;
  stop(): Promise<void>;
}

/** The environment of a child unisd: the test's own, without UNISD_ variables (they would override its config). */
export const childEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));

/** A port for a unisd to come (its peers' configurations need its URL before it starts). */
export const reservePort = freePort;

export async function startUnisd(t: { after: (fn: () => unknown) => void }, config: Record<string, unknown>, port?: number): Promise<UnisdProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-proc-'));
  const listenPort = port ?? await freePort();
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(deepMerge({
    server: { host: '127.0.0.1', port: listenPort, publicUrl: `http://127.0.0.1:${listenPort}` },
    storage: { sqlite: { path: join(dir, 'unisd.db') } },
    keys: { path: join(dir, 'signing.key') },
    logging: { level: 'info' },
  }, config)));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', configFile], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  child.once('exit', () => {
    exited = true;
    for (const wake of waiters) wake();
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    lines.push((() => { try { return JSON.parse(text) as LogLine; } catch { return { msg: text }; } })());
    for (const wake of waiters) wake();
  });
  const waitForLog = (match: (line: LogLine) => boolean, ms: number, what = 'a log line'): Promise<LogLine> => new Promise((resolvePromise, reject) => {
    const check = () => {
      const found = lines.find(match);
      if (found) {
        done();
        resolvePromise(found);
      } else if (exited) {
        done();
        reject(new Error(`unisd exited before ${what}`));
      }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`no ${what} within ${ms} ms`)); }, ms);
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForLog((line) => /^Server listening at/.test(String(line.msg)), 60_000, 'listening');
  return { url: `http://127.0.0.1:${listenPort}`, port: listenPort, dir, configFile, lines, waitForLog, stop };
}
