/**
 * `npm run bench`: the numbers behind the hash lookup's design choices, on this machine.
 *  (a) lookup hash throughput: node's one-shot crypto.hash, createHash, @noble/hashes;
 *  (b) store.lookupHashes latency, 1000 hashes asked of a 100k table (SQLite file);
 *  (c) replaceHashes of 100k entries;
 * Runs in well under a minute; prints one line per measurement.
 */
import * as crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sha256 } from '@noble/hashes/sha256';
import { utf8ToBytes } from '@noble/hashes/utils';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { SqliteStore } from '../core/store/sqlite.js';
import type { HashEntry } from '../core/store/port.js';

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
  const store = new SqliteStore(join(dir, 'bench.db'));
  try {
    await store.init();
    let start = performance.now();
    await store.replaceHashes(PEPPER, hashTable());
    console.log(`(c) replaceHashes, ${TABLE_SIZE} entries (SQLite file, WAL), hashing included: ${(performance.now() - start).toFixed(0)} ms`);
    start = performance.now();
    await store.replaceHashes(PEPPER, hashTable());
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
      const result = await store.lookupHashes(PEPPER, request);
      if (index >= 10) latencies.push(performance.now() - start); // the first ones warm caches
      found += result.length;
    }
    latencies.sort((a, b) => a - b);
    console.log(`(b) lookupHashes, 1000 hashes against ${TABLE_SIZE} (half found): median ${percentile(latencies, 0.5).toFixed(2)} ms, p95 ${percentile(latencies, 0.95).toFixed(2)} ms over ${latencies.length} requests (${found / requests.length} found each)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const began = performance.now();
benchHashFunctions();
await benchStore();
console.log(`done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
