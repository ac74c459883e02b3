/** What the benchmarks look up: N synthetic 3PIDs from a hash-source provider, and 1000-address bodies (half hits). */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
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
