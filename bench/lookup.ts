/**
 * `npm run bench`: the numbers behind the hash lookup's design choices, on this machine.
 *  (a) lookup hash throughput: node's one-shot crypto.hash, createHash, @noble/hashes;
 *  (b) store.hashes.lookup latency, 1000 hashes asked of a 100k table (SQLite file);
 *  (c) hashes.replace of 100k entries;
 *  (d) the worker pool's hashBatch throughput for 100k entries, against the main thread;
 *  (e) binds per second (one binds.put each, as /3pid/bind commits) with SQLite's
 *      synchronous=FULL (the default: a bind answered is on disk) and NORMAL.
 * Runs in well under a minute; prints one line per measurement.
 */
import * as crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { sha256 } from '@noble/hashes/sha256';
import { utf8ToBytes } from '@noble/hashes/utils';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import type { HashEntry } from '../core/store/port.js';
import { signAssociation } from '../plugins/binds/association.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { WorkerPool } from '../core/workers.js';

const PEPPER = 'benchpepper';
const TABLE_SIZE = 100_000;
const BATCH = 5_000;

type OneShotHash = (algorithm: string, data: string, encoding: 'base64url') => string;
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

function threepids(count: number): Array<[string, string]> {
  return Array.from({ length: count }, (_, i): [string, string] => i % 4 === 0 ? [`4479${String(i).padStart(8, '0')}`, 'msisdn'] : [`user${i}@example.org`, 'email']);
}

function rate(count: number, ms: number): string {
  return `${(count / ms * 1000 / 1e6).toFixed(2)} M/s`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Runs `fn` over `inputs` after a warm-up pass, returns the elapsed milliseconds. */
function timeHashes(inputs: string[], fn: (input: string) => string): number {
  for (let i = 0; i < Math.min(inputs.length, 20_000); i++) fn(inputs[i]!);
  const start = performance.now();
  let sink = 0;
  for (const input of inputs) sink += fn(input).length;
  const elapsed = performance.now() - start;
  if (sink !== inputs.length * 43) throw new Error('unexpected hash length');
  return elapsed;
}

function benchHashFunctions(): void {
  const inputs = threepids(300_000).map(([address, medium]) => `${address} ${medium} ${PEPPER}`);
  console.log(`(a) lookup hash throughput, ${inputs.length} hashes on one core:`);
  if (oneShot) {
    const ms = timeHashes(inputs, (s) => oneShot('sha256', s, 'base64url'));
    console.log(`    crypto.hash one-shot     ${rate(inputs.length, ms)}`);
  } else {
    console.log('    crypto.hash one-shot     (not in this node version)');
  }
  const created = timeHashes(inputs, (s) => crypto.createHash('sha256').update(s).digest('base64url'));
  console.log(`    crypto.createHash        ${rate(inputs.length, created)}`);
  const noble = timeHashes(inputs, (s) => Buffer.from(sha256(utf8ToBytes(s))).toString('base64url'));
  console.log(`    @noble/hashes sha256     ${rate(inputs.length, noble)}`);
}

function* hashTable(): Iterable<HashEntry[]> {
  const all = threepids(TABLE_SIZE);
  for (let i = 0; i < all.length; i += BATCH) {
    yield all.slice(i, i + BATCH).map(([address, medium], j) => ({ hash: lookupHash(address, medium, PEPPER), mxid: `@u${i + j}:example.org` }));
  }
}

async function benchStore(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-'));
  const store = await openSqliteStore(join(dir, 'bench.db'));
  try {
    let start = performance.now();
    await store.hashes.replace(PEPPER, hashTable());
    console.log(`(c) hashes.replace, ${TABLE_SIZE} entries (SQLite file, WAL), hashing included: ${(performance.now() - start).toFixed(0)} ms`);
    start = performance.now();
    await store.hashes.replace(PEPPER, hashTable());
    console.log(`    again, replacing the existing table: ${(performance.now() - start).toFixed(0)} ms`);

    // Half the asked hashes are in the table, half are not (as in a client's contact list).
    const known = threepids(TABLE_SIZE);
    const requests = Array.from({ length: 60 }, (_, r) => Array.from({ length: 1000 }, (_, i) => {
      if (i % 2) return lookupHash(`stranger${r}-${i}@example.net`, 'email', PEPPER);
      const [address, medium] = known[(r * 7919 + i * 104_729) % TABLE_SIZE]!;
      return lookupHash(address, medium, PEPPER);
    }));
    const latencies: number[] = [];
    let found = 0;
    for (const [index, request] of requests.entries()) {
      start = performance.now();
      const result = await store.hashes.lookup(PEPPER, request);
      if (index >= 10) latencies.push(performance.now() - start); // the first ones warm caches
      found += result.length;
    }
    latencies.sort((a, b) => a - b);
    console.log(`(b) hashes.lookup, 1000 hashes against ${TABLE_SIZE} (half found): median ${percentile(latencies, 0.5).toFixed(2)} ms, p95 ${percentile(latencies, 0.95).toFixed(2)} ms over ${latencies.length} requests (${found / requests.length} found each)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPool(): Promise<void> {
  const entries = threepids(TABLE_SIZE);
  const pool = new WorkerPool();
  try {
    let start = performance.now();
    await pool.hashBatch(entries.slice(0, 10), PEPPER);
    const startup = performance.now() - start;

    const batches: Array<Array<[string, string]>> = [];
    for (let i = 0; i < entries.length; i += BATCH) batches.push(entries.slice(i, i + BATCH));
    // What the pool is for: the event loop keeps turning (serving lookups) while it hashes.
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    start = performance.now();
    const hashed = (await Promise.all(batches.map((batch) => pool.hashBatch(batch, PEPPER)))).flat();
    const pooled = performance.now() - start;
    loopDelay.disable();
    if (hashed.length !== entries.length) throw new Error('pool lost entries');

    start = performance.now();
    const local = entries.map(([address, medium]) => lookupHash(address, medium, PEPPER));
    const main = performance.now() - start;
    if (local[TABLE_SIZE - 1] !== hashed[TABLE_SIZE - 1]) throw new Error('pool and main thread disagree');

    console.log(`(d) hashing ${TABLE_SIZE} entries in batches of ${BATCH} (${availableParallelism()} cores):`);
    console.log(`    worker pool  ${pooled.toFixed(0)} ms (${rate(TABLE_SIZE, pooled)}), longest event loop stall ${(loopDelay.max / 1e6).toFixed(1)} ms, pool start ${startup.toFixed(0)} ms`);
    console.log(`    main thread  ${main.toFixed(0)} ms (${rate(TABLE_SIZE, main)}), one stall of the whole duration`);
  } finally {
    await pool.close();
  }
}

/**
 * Binds, each its own commit (and, with synchronous=FULL, its own fsync), into a fresh file. The
 * signature is made once: this measures the store, not ed25519.
 */
async function bindsPerSecond(synchronous: 'full' | 'normal', count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-'));
  const store = await openSqliteStore(join(dir, 'binds.db'), { synchronous });
  const signed = signAssociation({ medium: 'email', address: 'user@example.org' }, '@u:example.org', Date.now(), 'id.example.org', generateSigningKey());
  try {
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      await store.binds.put({ medium: 'email', address: `user${i}@example.org`, mxid: `@u${i}:example.org`, ts: signed.ts, notBefore: signed.not_before, notAfter: signed.not_after, signed });
    }
    return count / ((performance.now() - start) / 1000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchBinds(): Promise<void> {
  const count = 1000;
  console.log(`(e) binds, ${count} one at a time (SQLite file, WAL), by storage.sqlite.synchronous:`);
  for (const level of ['full', 'normal'] as const) {
    console.log(`    ${level.padEnd(6)}  ${(await bindsPerSecond(level, count)).toFixed(0)} binds/s`);
  }
}

const began = performance.now();
benchHashFunctions();
await benchStore();
await benchPool();
await benchBinds();
console.log(`done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
