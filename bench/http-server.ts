/**
 * The server side of the HTTP benchmark (run pinned to one core by bench/http.ts): the real unisd
 * app, its hash table built by the pool from N synthetic 3PIDs, and three reference routes on the
 * same Fastify instance: (a) /bench/parse parses the body and answers {} (the ceiling), (b)
 * /bench/prebuilt answers the real answer's bytes prepared beforehand, (c) /bench/naive looks up a
 * Map<string,string> and lets Fastify serialise. With --workers 2 it forks like server.workers.
 * With --third-party M it is also an MSC4004 hub: two members push M hashes between them through
 * POST /v2/lookups (50,000 a chunk, timed), and the lookup body asks a quarter of member hashes.
 * Prints one JSON line {base, token, body, pushSeconds?} when every process is ready.
 */
import cluster from 'node:cluster';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../core/config/load.js';
import { buildApp } from '../core/app.js';
import { AskedHashes } from '../plugins/lookup/compact-index.js';
import { lookupAddresses, memberHash, pushMembers, syntheticProvider, MEMBERS } from './fixtures.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000000' }, workers: { type: 'string', default: '1' }, 'third-party': { type: 'string', default: '0' } } });
const count = Number(values.count);
const workers = Number(values.workers);
const thirdParty = Number(values['third-party']);

if (cluster.isPrimary && workers > 1) {
  const data = mkdtempSync(join(tmpdir(), 'unisd-bench-http-'));
  let ready = 0;
  let first: unknown;
  for (let i = 0; i < workers; i++) {
    cluster.fork({ BENCH_DATA: data }).on('message', (message) => {
      first ??= message;
      if (++ready === workers) process.stdout.write(`${JSON.stringify(first)}\n`);
    });
  }
  process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers ?? {})) w?.kill(); process.exit(0); });
} else {
  const data = process.env.BENCH_DATA ?? mkdtempSync(join(tmpdir(), 'unisd-bench-http-'));
  const config = loadConfig({
    env: {},
    overrides: {
      logging: { level: 'silent' },
      server: { port: 0, name: 'bench.example' },
      storage: { sqlite: { path: join(data, 'bench.sqlite') } },
      keys: { path: join(data, 'signing.key') },
      hashing: { hashStorageType: 'in_memory', rotationPolicy: 'per_seconds', delay: '1d', maxAddresses: 10_000 },
      lookup: { budget: { perToken: 0, perUser: 0 } },
      ...(thirdParty > 0 ? { unifiedView: { enabled: true, members: MEMBERS, rateLimit: { perMember: 0, perClient: 0 } } } : {}),
    },
  });
  let prebuilt = '';
  let naive = new Map<string, string>();
  let body = '';
  const references = async (app: FastifyInstance) => {
    app.providers.register(syntheticProvider(count));
    app.post('/bench/parse', async (request) => {
      const { addresses } = request.body as { addresses: unknown };
      if (!Array.isArray(addresses)) throw new Error('bad body');
      return {};
    });
    app.post('/bench/prebuilt', async (_request, reply) => reply.type('application/json').send(prebuilt));
    app.post('/bench/naive', async (request) => {
      const mappings: Record<string, string> = {};
      for (const hash of (request.body as { addresses: string[] }).addresses) {
        const mxid = naive.get(hash);
        if (mxid !== undefined) mappings[hash] = mxid;
      }
      return { mappings };
    });
  };
  const app = await buildApp(config, { logger: false, extra: [references] });
  await app.ready();
  await app.hashLookup!.rotation.ready;
  const pepper = app.hashLookup!.rotation.pepper;
  const index = app.hashLookup!.memory!.index(pepper)!;
  const addresses = lookupAddresses(count, pepper);
  let pushSeconds: number | undefined;
  if (thirdParty > 0) {
    pushSeconds = await pushMembers(app, pepper, thirdParty);
    // Every other random digest becomes a member's hash: half hub hits, a quarter member hits, a quarter misses.
    for (let i = 1; i < addresses.length; i += 4) addresses[i] = memberHash(Math.floor(Math.random() * thirdParty), pepper);
  }
  body = JSON.stringify({ algorithm: 'sha256', pepper, addresses });
  prebuilt = `{"mappings":${index.answerJson(new AskedHashes(addresses)).json}}`;
  naive = new Map();
  for (const batch of index.entries(10_000)) for (const { hash, mxid } of batch) naive.set(hash, mxid);
  (globalThis as { gc?: () => void }).gc?.(); // the build's garbage, collected before the load starts
  await app.listen({ host: '127.0.0.1', port: 0 });
  const token = await app.accounts.issue('@bench:bench.example');
  const ready = { base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, token, body, pushSeconds };
  if (cluster.isWorker) process.send!(ready);
  else process.stdout.write(`${JSON.stringify(ready)}\n`);
}
