/**
 * `npm run bench`: the hash lookup's benchmark suite, in one run (a few minutes on 2 cores).
 * Prints a table, or with --json one JSON document, with the machine, versions and inputs.
 *   1. in process: hashes resolved per second, 1000-address requests, at 100k and 1M known 3PIDs;
 *   2. over HTTP (pinned cores): /v2/lookup beside reference routes, then with two processes;
 *   3. the rehash of 1M 3PIDs: pool vs one thread, event loop delay and lookups served meanwhile;
 *   4. bytes per index entry at 1M;
 *   5. sql storage at 1M: 1000- and 10,000-hash lookups, on SQLite and PostgreSQL;
 *   6. each identity provider's hash source streamed from its backend at 100k rows (rows/s);
 *   7. an MSC4004 member hashing and pushing N 3PIDs to a unisd hub process, beside hashing alone;
 *   8. an MSC4004 hub: the answer with N third-party mappings (two members) beside N of its own,
 *      in process and over HTTP (ratio to the ceiling), and the time the hub takes the pushes;
 * and, beside them, binds per second by storage.sqlite.synchronous, and on PostgreSQL.
 * PostgreSQL is measured when UNISD_TEST_POSTGRES_URI names one (its figures also as ratios
 * to SQLite's of the same run); without it, one line says it was skipped.
 * Options: --json, --quick (N=100k only, 20k provider rows, shorter HTTP runs: a smoke test of the suite itself).
 */
import { cpus, totalmem, availableParallelism, release } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WorkerPool } from '../core/workers.js';
import { hashFunctions, hubLookups, lookups, memory, rehash } from './in-process.js';
import { sqlStorage } from './sql.js';
import { http, unifiedView } from './http.js';
import { binds } from './binds.js';
import { POSTGRES_SKIPPED, postgresUri } from './postgres.js';
import { providerStreaming } from './providers.js';
import { unifiedViewPush } from './unified-view-push.js';
import { table, type Row } from './report.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false } } });
const N = values.quick ? 100_000 : 1_000_000;
const PROVIDER_ROWS = values.quick ? 20_000 : 100_000;
const duration = values.quick ? 2 : 5;
const version = (pkg: string): string => JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;

const began = performance.now();
const progress = (text: string) => { if (!values.json) process.stderr.write(`… ${text}\n`); };
const rows: Row[] = [];
const pool = new WorkerPool();
try {
  // Memory first, while the heap holds nothing of the other sections.
  progress('4. memory');
  rows.push(...await memory(pool, N));
  progress('hash functions');
  rows.push(...hashFunctions());
  progress('1. in-process lookups');
  rows.push(...await lookups(pool, values.quick ? [N] : [100_000, N]));
  progress('3. rehash');
  rows.push(...await rehash(pool, N));
  progress('8. hub in process');
  rows.push(...await hubLookups(pool, N, N));
  progress('5. sql storage');
  rows.push(...await sqlStorage(pool, N));
  progress('7. member push');
  rows.push(...await unifiedViewPush(pool, N));
} finally {
  await pool.close();
}
progress('2. HTTP');
rows.push(...await http(N, duration));
progress('8. unified view hub');
rows.push(...await unifiedView(N, N, duration));
progress('binds');
rows.push(...await binds());
rows.push(...await providerStreaming(PROVIDER_ROWS, progress));

const report = {
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), kernel: release() },
  versions: { node: process.versions.node, fastify: version('fastify'), piscina: version('piscina'), autocannon: version('autocannon'), 'better-sqlite3': version('better-sqlite3'), pg: version('pg'), mysql2: version('mysql2'), ldapts: version('ldapts') },
  inputs: { knownThreepids: N, providerRows: PROVIDER_ROWS, addressesPerRequest: 1000, hitRatio: 0.5, httpSeconds: duration, httpConnections: 8, poolThreads: pool.threads },
  seconds: +((performance.now() - began) / 1000).toFixed(1),
  results: rows,
  skipped: postgresUri ? [] : [POSTGRES_SKIPPED],
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const { machine, versions, inputs } = report;
  process.stdout.write(`unisd hash lookup benchmark — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}\n`);
  process.stdout.write(`${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
  process.stdout.write(`inputs: ${Object.entries(inputs).map(([k, v]) => `${k}=${v}`).join(', ')}\n\n`);
  process.stdout.write(`${table(rows)}\n\n${report.skipped.map((line) => `${line}\n`).join('')}completed in ${report.seconds} s\n`);
}
