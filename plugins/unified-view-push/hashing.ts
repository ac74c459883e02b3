/**
 * Every local 3PID (the hash sources: local binds first, then each provider whose hashing is
 * on), hashed with several peppers at once in the worker pool, as batches of lookup hashes
 * (unpadded base64url, what /v2/lookup takes). The sources are read once whatever the number of
 * peppers; a few batches are in flight so every pool thread stays busy, and memory is those
 * batches whatever the sources' size. The texts hashed are the hash table's (hashInputs: an
 * email's other spellings too), so a client finds here what it would find in the member's table.
 */
import type { IdentityProvider } from '../../core/providers/provider.js';
import type { WorkerPool } from '../../core/workers.js';
import { hashInputs } from '../lookup/table-builder.js';

export interface HashedBatch {
  /** 3PIDs read from the sources for this batch. */
  threepids: number;
  /** The batch's hashes, one list per pepper (in the order the peppers were given). */
  hashes: string[][];
}

interface InFlight {
  threepids: number;
  digests: Promise<Uint8Array>[];
}

/** Lookup hashes of 32-byte digests laid end to end. */
export function digestsToHashes(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<string>(bytes.byteLength / 32);
  for (let i = 0; i < out.length; i++) out[i] = buffer.toString('base64url', i * 32, i * 32 + 32);
  return out;
}

/** A source that fails stops the stream (a partial snapshot would remove what it left out). */
export async function* hashedThreepids(pool: WorkerPool, sources: IdentityProvider[], peppers: string[], signal: AbortSignal): AsyncGenerator<HashedBatch> {
  const inFlight: InFlight[] = [];
  const settle = async (): Promise<HashedBatch> => {
    const { threepids, digests } = inFlight.shift()!;
    return { threepids, hashes: (await Promise.all(digests)).map(digestsToHashes) };
  };
  try {
    for (const source of sources) {
      for await (const batch of source.mappings!(signal)) {
        signal.throwIfAborted();
        const inputs: string[] = [];
        for (const mapping of batch) {
          // No client can send a line break in an address; the pool's batches are lines.
          if (mapping.address.includes('\n') || mapping.medium.includes('\n')) continue;
          inputs.push(...hashInputs(mapping));
        }
        inFlight.push({ threepids: batch.length, digests: peppers.map((pepper) => pool.hashBatch(inputs, pepper)) });
        while (inFlight.length > pool.threads + 1) yield await settle();
      }
    }
    while (inFlight.length > 0) yield await settle();
  } finally {
    // Abandoned batches must not reject unobserved.
    for (const { digests } of inFlight) for (const d of digests) d.catch(() => {});
  }
}
