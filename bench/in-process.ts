/**
 * In-process measurements: lookup throughput of the compact index (alone, and with body parsing
 * and answer building) beside a naive Map; the rehash of N 3PIDs through the pool beside one
 * thread, with the event loop's delay and the lookups served meanwhile; bytes per index entry.
 */
import * as crypto from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { sha256 } from '@noble/hashes/sha256';
import { utf8ToBytes } from '@noble/hashes/utils';
import { WorkerPool } from '../core/workers.js';
import { AskedHashes, CompactHashIndex } from '../plugins/lookup/compact-index.js';
import { buildIndex } from '../plugins/lookup/table-builder.js';
import { ThirdPartyIndex } from '../plugins/unified-view/third-party-index.js';
import type { ThirdPartyMappingStore } from '../core/store/ports/third-party.js';
import { MEMBERS, PEPPER, lookupAddresses, mappingAt, memberHash, silentLog, syntheticProvider } from './fixtures.js';
import { percentile, timeAlternating, timeRuns, type Row } from './report.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function poolBuild(pool: WorkerPool, count: number, expected = 0): Promise<CompactHashIndex> {
  return buildIndex(PEPPER, { pool, sources: [syntheticProvider(count)], log: silentLog, expected, onSourceError: 'throw' });
}

/** Hash-function throughput on this machine (the rehash's raw material). */
export function hashFunctions(): Row[] {
  const inputs = Array.from({ length: 200_000 }, (_, i) => `${mappingAt(i).address} email ${PEPPER}`);
  const rate = (fn: (text: string) => unknown): number => {
    for (let i = 0; i < 20_000; i++) fn(inputs[i]);
    const start = performance.now();
    for (const text of inputs) fn(text);
    return inputs.length / ((performance.now() - start) / 1000);
  };
  return [
    { section: 'hash functions', measure: 'crypto.hash sha256 (base64url)', value: rate((t) => crypto.hash('sha256', t, 'base64url')) / 1e6, unit: 'M/s' },
    { section: 'hash functions', measure: 'crypto.createHash sha256', value: rate((t) => crypto.createHash('sha256').update(t).digest()) / 1e6, unit: 'M/s' },
    { section: 'hash functions', measure: '@noble/hashes sha256', value: rate((t) => sha256(utf8ToBytes(t))) / 1e6, unit: 'M/s' },
  ];
}

/** 1. Hashes resolved per second for 1000-address requests, at each N. */
export async function lookups(pool: WorkerPool, sizes: number[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const count of sizes) {
    const index = await poolBuild(pool, count, count);
    const bodies = Array.from({ length: 50 }, () => JSON.stringify({ algorithm: 'sha256', pepper: PEPPER, addresses: lookupAddresses(count, PEPPER) }));
    const parsed = bodies.map((body) => JSON.parse(body).addresses as string[]);
    const section = `1. in process, N=${count.toLocaleString('en-US')}`;
    let k = 0;
    const indexOnly = await timeRuns(400, () => index.answerJson(new AskedHashes(parsed[k++ % parsed.length])));
    const full = await timeRuns(400, () => {
      const body = JSON.parse(bodies[k++ % bodies.length]);
      if (!Array.isArray(body.addresses) || !body.addresses.every((a: unknown) => typeof a === 'string')) throw new Error('bad body');
      return `{"mappings":${index.answerJson(new AskedHashes(body.addresses)).json}}`;
    });
    const naive = new Map<string, string>();
    for (const batch of index.entries(10_000)) for (const { hash, mxid } of batch) naive.set(hash, mxid);
    const naiveRuns = await timeRuns(400, () => {
      const body = JSON.parse(bodies[k++ % bodies.length]);
      const mappings: Record<string, string> = {};
      for (const hash of body.addresses as string[]) {
        const mxid = naive.get(hash);
        if (mxid !== undefined) mappings[hash] = mxid;
      }
      return JSON.stringify({ mappings });
    });
    const perSecond = (runs: number[]) => 1000 / (percentile(runs, 0.5) / 1000);
    rows.push(
      { section, measure: 'index only (answerJson), 1000 hashes', value: perSecond(indexOnly) / 1e6, unit: 'M hashes/s', note: `median ${(percentile(indexOnly, 0.5) * 1000).toFixed(0)} µs per request` },
      { section, measure: 'parse body + check + index + answer text', value: perSecond(full) / 1e6, unit: 'M hashes/s', note: `median ${(percentile(full, 0.5) * 1000).toFixed(0)} µs per request` },
      { section, measure: 'naive Map<string,string> + JSON.stringify', value: perSecond(naiveRuns) / 1e6, unit: 'M hashes/s', note: `median ${(percentile(naiveRuns, 0.5) * 1000).toFixed(0)} µs per request` },
    );
  }
  return rows;
}

/** 3. Rehash of N 3PIDs: pool vs one thread; the event loop and lookups served while the pool works. */
export async function rehash(pool: WorkerPool, count: number): Promise<Row[]> {
  const section = `3. rehash, N=${count.toLocaleString('en-US')}`;
  await poolBuild(pool, 10_000); // threads started
  const current = await poolBuild(pool, 100_000);
  const addresses = lookupAddresses(100_000, PEPPER);
  gc();

  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  let building = true;
  let served = 0;
  const serving = (async () => {
    while (building) {
      current.answerJson(new AskedHashes(addresses));
      served++;
      await yieldToLoop();
    }
  })();
  loopDelay.enable();
  let start = performance.now();
  // As a rotation does: room for the previous table's size made at once.
  const built = await poolBuild(pool, count, count);
  const pooled = performance.now() - start;
  loopDelay.disable();
  building = false;
  await serving;
  if (built.size !== count) throw new Error(`pool built ${built.size} entries of ${count}`);
  gc();

  start = performance.now();
  const index = new CompactHashIndex(count);
  const bytes = new Uint8Array(1000 * 32);
  const words = new Uint32Array(bytes.buffer);
  for (let i = 0; i < count; i += 1000) {
    const mxids: string[] = [];
    for (let j = 0; j < 1000 && i + j < count; j++) {
      const m = mappingAt(i + j);
      const digest = crypto.hash('sha256', `${m.address} email ${PEPPER}`, 'binary');
      for (let b = 0; b < 32; b++) bytes[j * 32 + b] = digest.charCodeAt(b);
      mxids.push(m.mxid);
    }
    index.addDigests(words, mxids);
  }
  const single = performance.now() - start;
  return [
    { section, measure: `worker pool (${pool.threads} thread${pool.threads > 1 ? 's' : ''}), stream + hash + index`, value: pooled / 1000, unit: 's', note: `${(count / (pooled / 1000) / 1e6).toFixed(2)} M hashes/s` },
    { section, measure: 'main thread loop, same work', value: single / 1000, unit: 's', note: `${(count / (single / 1000) / 1e6).toFixed(2)} M hashes/s; blocks the event loop throughout` },
    { section, measure: 'event loop delay p99 during the pool rehash', value: loopDelay.percentile(99) / 1e6, unit: 'ms', note: `max ${(loopDelay.max / 1e6).toFixed(1)} ms` },
    { section, measure: '1000-hash lookups answered meanwhile', value: served, unit: 'lookups', note: `${(served / (pooled / 1000)).toFixed(0)}/s on the main thread` },
  ];
}

/** 4. Bytes per entry at N: the index's arrays alone, and the process's growth with the Matrix IDs. */
export async function memory(pool: WorkerPool, count: number): Promise<Row[]> {
  const section = `4. memory, N=${count.toLocaleString('en-US')}`;
  gc();
  const before = process.memoryUsage();
  const index = await poolBuild(pool, count);
  gc();
  const after = process.memoryUsage();
  const grown = (after.heapUsed + after.arrayBuffers) - (before.heapUsed + before.arrayBuffers);
  return [
    { section, measure: 'index arrays (digests, owners, slots)', value: index.bytes / index.size, unit: 'bytes/entry' },
    { section, measure: 'with Matrix IDs (heap + array buffers grown)', value: grown / index.size, unit: 'bytes/entry', note: `${index.size.toLocaleString('en-US')} distinct Matrix IDs (one per 3PID: the worst case)` },
  ];
}

/**
 * 8. The MSC4004 hub in process, at N of its own 3PIDs and `thirdParty` hashes two members
 * declared: the answer of a 1000-hash request (a quarter of them members') with and without
 * third_party_mappings, i.e. what probing the members' index for the hashes the hub does not map
 * costs (the digests decoded once for both). The members' index is loaded as the plugin loads
 * it, from the hashes the store would list.
 */
export async function hubLookups(pool: WorkerPool, count: number, thirdParty: number): Promise<Row[]> {
  const section = `8. hub in process, N=${count.toLocaleString('en-US')} + ${thirdParty.toLocaleString('en-US')} third-party`;
  const index = await poolBuild(pool, count, count);
  const declared = MEMBERS.map(() => [] as string[]);
  for (let i = 0; i < thirdParty; i++) declared[i % MEMBERS.length].push(memberHash(i, PEPPER));
  const listed: Partial<ThirdPartyMappingStore> = {
    members: async () => MEMBERS.map(({ server }, m) => ({ server, pepper: PEPPER, snapshot: 's', pushedAt: 0, size: declared[m].length })),
    visibleHashes: async function* (server) {
      const hashes = declared[MEMBERS.findIndex((m) => m.server === server)];
      for (let i = 0; i < hashes.length; i += 10_000) yield hashes.slice(i, i + 10_000);
    },
  };
  const members = new ThirdPartyIndex(listed as ThirdPartyMappingStore, silentLog);
  await members.sync();
  const requests = Array.from({ length: 50 }, () => {
    const addresses = lookupAddresses(count, PEPPER);
    for (let i = 1; i < addresses.length; i += 4) addresses[i] = memberHash(Math.floor(Math.random() * thirdParty), PEPPER);
    return addresses;
  });
  let k = 0;
  // Taking turns, each with its own request: the ratio of the two is what the bench reports.
  const [own, withMembers] = await timeAlternating(400, [
    () => `{"mappings":${index.answerJson(new AskedHashes(requests[k++ % requests.length])).json}}`,
    () => {
      const asked = new AskedHashes(requests[k++ % requests.length]);
      return `{"mappings":${index.answerJson(asked).json}${members.answer(PEPPER, asked)}}`;
    },
  ]);
  const median = (runs: number[]) => percentile(runs, 0.5) * 1000;
  return [
    { section, measure: 'answer, mappings only (the plain lookup)', value: median(own), unit: 'µs', note: 'median per 1000-hash request' },
    { section, measure: 'answer with third_party_mappings', value: median(withMembers), unit: 'µs', note: `${(median(withMembers) / median(own)).toFixed(2)}× the plain answer` },
  ];
}
