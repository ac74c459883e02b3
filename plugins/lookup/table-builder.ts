/**
 * Builds the hash table of one pepper from every hash source (local binds first, then each
 * provider whose hashing is on, in priority order): each source's mappings are streamed in
 * batches, hashed in the Piscina pool (binary digests back, transferred), and added to a
 * CompactHashIndex in source order, so a 3PID known to several sources keeps the first one's
 * Matrix ID. A few batches are in flight at once (enough to keep every thread busy); memory is
 * the index plus those batches, whatever the sources' sizes.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { IdentityProvider, Mapping } from '../../core/providers/provider.js';
import type { WorkerPool } from '../../core/workers.js';
import { CompactHashIndex } from './compact-index.js';

/** At most this many spellings of one address are hashed (2^3: three "ss" or final sigmas). */
const MAX_FORMS = 8;

/**
 * The spellings of a normalised (case-folded) email that a client may hash: matrix-js-sdk hashes
 * `toLowerCase()` of what the user typed, which keeps `ß` and a final `ς` where case folding
 * writes `ss` and `σ` (`Straße@x` is stored `strasse@x`, hashed `straße@x`). Each such spelling
 * folds to the same address, so under the spec's normalisation it is the same 3PID.
 */
export function emailSpellings(address: string): string[] {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  if (!local.includes('ss') && !local.includes('σ')) return [address];
  let forms = [''];
  for (let i = 0; i < local.length; i++) {
    const rest = local.slice(i);
    let alternative: string | null = null;
    let width = 1;
    if (rest.startsWith('ss')) {
      alternative = 'ß';
      width = 2;
    } else if (rest[0] === 'σ' && !/^\p{L}/u.test(rest.slice(1))) {
      alternative = 'ς';
    }
    const written = rest.slice(0, width);
    forms = alternative && forms.length * 2 <= MAX_FORMS
      ? forms.flatMap((form) => [form + written, form + alternative])
      : forms.map((form) => form + written);
    i += width - 1;
  }
  const domain = at < 0 ? '' : address.slice(at);
  return forms.map((form) => form + domain);
}

/** The texts ("<address> <medium>") a mapping is hashed under. */
export function hashInputs(mapping: Mapping): string[] {
  if (mapping.medium !== 'email') return [`${mapping.address} ${mapping.medium}`];
  return emailSpellings(mapping.address).map((address) => `${address} email`);
}

export interface BuildOptions {
  pool: WorkerPool;
  sources: IdentityProvider[];
  log: FastifyBaseLogger;
  /** Room to make at once (the previous table's size). */
  expected?: number;
  signal?: AbortSignal;
  /** A source that fails mid-stream: `throw` fails the build (rotation keeps its pepper), `skip` logs and goes on (the first build at start). */
  onSourceError: 'throw' | 'skip';
  /** How often progress is logged. */
  progressEvery?: number;
  /** Told the entries hashed so far after each batch (metrics). */
  onProgress?: (hashed: number) => void;
}

interface InFlight {
  digests: Promise<Uint8Array>;
  mxids: string[];
}

export async function buildIndex(pepper: string, options: BuildOptions): Promise<CompactHashIndex> {
  const { pool, sources, log, signal } = options;
  const index = new CompactHashIndex(options.expected);
  const inFlight: InFlight[] = [];
  const started = Date.now();
  const progressEvery = options.progressEvery ?? 10_000;
  let hashed = 0;
  let nextReport = progressEvery;

  const settle = async (): Promise<void> => {
    const { digests, mxids } = inFlight.shift()!;
    const bytes = await digests;
    index.addDigests(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), mxids);
    hashed += mxids.length;
    options.onProgress?.(hashed);
    if (hashed >= nextReport) {
      nextReport = hashed + progressEvery;
      const seconds = (Date.now() - started) / 1000;
      log.info({ hashed, entries: index.size, rate: Math.round(hashed / Math.max(seconds, 0.001)) }, 'hash table build in progress');
    }
  };

  try {
    for (const source of sources) {
      const controller = new AbortController();
      const abort = () => controller.abort();
      signal?.addEventListener('abort', abort);
      try {
        for await (const batch of source.mappings!(controller.signal)) {
          signal?.throwIfAborted();
          const inputs: string[] = [];
          const mxids: string[] = [];
          for (const mapping of batch) {
            // No client can send a line break in an address; the pool's batches are lines.
            if (mapping.address.includes('\n') || mapping.medium.includes('\n')) continue;
            for (const input of hashInputs(mapping)) {
              inputs.push(input);
              mxids.push(mapping.mxid);
            }
          }
          inFlight.push({ digests: pool.hashBatch(inputs, pepper), mxids });
          // The head settles into the index in order; later batches hash meanwhile.
          while (inFlight.length > pool.threads + 1) await settle();
        }
        while (inFlight.length > 0) await settle();
      } catch (err) {
        if (options.onSourceError === 'throw' || signal?.aborted) throw err;
        log.error({ provider: source.name, errorType: (err as Error)?.constructor?.name }, 'hash source failed; the table is built without the rest of it');
        inFlight.length = 0;
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    }
  } finally {
    // Abandoned batches must not reject unobserved.
    for (const { digests } of inFlight) digests.catch(() => {});
  }
  log.info({ entries: index.size, hashed, ms: Date.now() - started }, 'hash table built');
  return index;
}
