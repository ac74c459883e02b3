/** What the benchmarks look up: N synthetic 3PIDs from a hash-source provider, and 1000-address bodies (half hits). */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import type { IdentityProvider, Mapping } from '../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../core/providers/provider.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';

export const silentLog = pino({ level: 'silent' });
export const PEPPER = 'BenchPepper0123456789';

export const mappingAt = (i: number): Mapping => ({ medium: 'email', address: `user${i}@bench.example`, mxid: `@user${i}:bench.example` });

/** A provider streaming `count` mappings, as a directory would (constant memory). */
export function syntheticProvider(count: number): IdentityProvider {
  return {
    name: 'bench', priority: 1,
    capabilities: { media: ['email'], bulk: true, hashSource: true },
    lookup: async () => null,
    bulkLookup: async () => [],
    mappings: async function* () {
      for (let i = 0; i < count; i += MAPPING_BATCH_SIZE) {
        yield Array.from({ length: Math.min(MAPPING_BATCH_SIZE, count - i) }, (_, j) => mappingAt(i + j));
      }
    },
  };
}

/** `size` lookup hashes, every other one of a known 3PID (random ones), the rest random digests. */
export function lookupAddresses(known: number, pepper: string, size = 1000): string[] {
  return Array.from({ length: size }, (_, i) => i % 2 === 0
    ? lookupHash(mappingAt(Math.floor(Math.random() * known)).address, 'email', pepper)
    : randomBytes(32).toString('base64url'));
}

/** The MSC4004 members of the hub benchmarks: two, authenticating with a shared secret. */
export const MEMBERS = [
  { server: 'm0.bench.example', secret: 'bench-member-secret-0' },
  { server: 'm1.bench.example', secret: 'bench-member-secret-1' },
];

/** The lookup hash of the i-th 3PID of the members (member i % 2 owns it). */
export const memberHash = (i: number, pepper: string): string => lookupHash(`member${i}@bench.example`, 'email', pepper);

/** The members push `total` hashes between them to `app` (POST /v2/lookups, 50,000 a chunk); seconds taken, hashing excluded. */
export async function pushMembers(app: FastifyInstance, pepper: string, total: number, chunkSize = 50_000): Promise<number> {
  const chunks = MEMBERS.map(() => [] as string[][]);
  for (let i = 0; i < total; i++) {
    const mine = chunks[i % MEMBERS.length];
    if (mine.length === 0 || mine[mine.length - 1].length === chunkSize) mine.push([]);
    mine[mine.length - 1].push(memberHash(i, pepper));
  }
  const started = performance.now();
  for (const [m, { server, secret }] of MEMBERS.entries()) {
    for (const [chunk, hashes] of chunks[m].entries()) {
      const res = await app.inject({
        method: 'POST', url: '/_matrix/identity/v2/lookups',
        headers: { 'content-type': 'application/json', authorization: `X-Unisd-Member origin="${server}",secret="${secret}"` },
        payload: JSON.stringify({ algorithm: 'sha256', pepper, mappings: { [server]: hashes }, snapshot: 'bench', chunk, final: chunk === chunks[m].length - 1 }),
      });
      if (res.statusCode !== 200) throw new Error(`push answered ${res.statusCode}: ${res.body}`);
    }
  }
  return (performance.now() - started) / 1000;
}
