/**
 * 7. MSC4004 member: how long a member takes to hash N 3PIDs with a hub's pepper and push them
 * (signed chunks of 50,000, one at a time while the next are hashed) to a real unisd hub in
 * another process, beside (reference) hashing them alone through the same pool in the same run,
 * and pushing them to a sink in this process that only parses each chunk and answers its receipt
 * (what the member itself costs: hashing, canonical JSON, signing, sending). Unpinned: the hub,
 * the member's main thread and its pool thread share the machine's cores.
 */
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import type { WorkerPool } from '../core/workers.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { HubClient } from '../plugins/unified-view-push/hub-client.js';
import { HubPusher, type PushReport } from '../plugins/unified-view-push/pusher.js';
import { hashedThreepids } from '../plugins/unified-view-push/hashing.js';
import { PEPPER, silentLog, syntheticProvider } from './fixtures.js';
import type { Row } from './report.js';

const MEMBER = 'member.bench.example';
const HUB = 'hub.bench.example';

/** A unisd hub process trusting MEMBER's key; resolves with its URL once it listens. */
async function startHub(dir: string, publicKey: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const config = join(dir, 'hub.yaml');
  writeFileSync(config, stringify({
    server: { name: HUB, host: '127.0.0.1', port: 0 },
    storage: { sqlite: { path: join(dir, 'hub.db') } },
    keys: { path: join(dir, 'hub.key') },
    logging: { level: 'info' },
    // No rotation during the push (ma1sd's default delay, 10s, is shorter than a push of 1M).
    hashing: { delay: '1h' },
    unifiedView: { enabled: true, members: [{ server: MEMBER, publicKey }], rateLimit: { perMember: 0, perClient: 0 } },
  }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', config], { cwd: resolve(import.meta.dirname, '..'), env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`the hub exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const at = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (at) done(at[1]!);
    });
  });
  return { url, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

/** A hub that checks nothing and stores nothing: parses each chunk and answers its receipt. */
async function startSink(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ algorithms: ['sha256'], lookup_pepper: PEPPER }));
        return;
      }
      const { snapshot, chunk, final } = JSON.parse(Buffer.concat(parts).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ snapshot, chunk, received: chunk + 1, committed: final }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, stop: () => new Promise((done) => server.close(() => done())) };
}

async function timedPush(url: string, key: ReturnType<typeof generateSigningKey>, pool: WorkerPool, count: number): Promise<PushReport> {
  const client = new HubClient({ url, server: HUB, auth: 'signature' }, MEMBER, key, 120_000);
  try {
    const pusher = new HubPusher({
      client, pool, sources: () => [syntheticProvider(count)], chunkHashes: 50_000, log: silentLog,
      retry: { attempts: 3, initialDelay: 1000, maxDelay: 5000 },
    });
    return await pusher.push(1, new AbortController().signal);
  } finally {
    await client.close();
  }
}

export async function unifiedViewPush(pool: WorkerPool, count: number): Promise<Row[]> {
  const section = `7. member push, N=${count.toLocaleString('en-US')}`;
  const signal = new AbortController().signal;
  const started = performance.now();
  let hashed = 0;
  for await (const batch of hashedThreepids(pool, [syntheticProvider(count)], [PEPPER], signal)) hashed += batch.hashes[0]!.length;
  const hashSeconds = (performance.now() - started) / 1000;

  const key = generateSigningKey();
  const row = (measure: string, report: PushReport): Row => {
    if (report.hashes !== hashed || report.peppers !== 1) throw new Error(`push sent ${report.hashes} hashes for ${report.peppers} pepper(s), expected ${hashed} for 1`);
    const seconds = report.ms / 1000;
    return { section, measure, value: count / seconds, unit: 'rows/s', note: `${seconds.toFixed(1)} s, ${report.chunks} chunks; ${(hashSeconds / seconds).toFixed(2)} of hashing alone` };
  };
  const rows: Row[] = [{ section, measure: 'hash alone (pool), the reference', value: count / hashSeconds, unit: 'rows/s', note: `${hashSeconds.toFixed(1)} s` }];

  const sink = await startSink();
  try {
    rows.push(row('hash + sign + push to a sink (parses, stores nothing)', await timedPush(sink.url, key, pool, count)));
  } finally {
    await sink.stop();
  }
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-push-'));
  const hub = await startHub(dir, key.publicKeyBase64);
  try {
    rows.push(row('hash + sign + push to a unisd hub (committed)', await timedPush(hub.url, key, pool, count)));
  } finally {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
