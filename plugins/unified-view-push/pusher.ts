/**
 * One push to one hub: read its peppers, then for each pepper not yet pushed with the current
 * local data, a full snapshot in chunks (a fresh snapshot id, chunk indexes from 0, `final` on
 * the last), so the hub swaps the member's set for that pepper at once when the last chunk
 * arrives. Chunks of one snapshot go one at a time, in order, while the next ones are hashed.
 * A request that failed in passing is retried with exponential backoff; a pepper the hub no
 * longer accepts (M_INVALID_PEPPER) or a snapshot it dropped (409) restarts the push from
 * hash_details with new snapshots.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { IdentityProvider } from '../../core/providers/provider.js';
import type { WorkerPool } from '../../core/workers.js';
import { HubError, type Chunk, type ChunkReceipt, type HubClient } from './hub-client.js';
import { hashedThreepids } from './hashing.js';

/** Restarts of one push after M_INVALID_PEPPER or 409, before it is given up (and retried later). */
const MAX_RESTARTS = 3;
/** Progress is logged this often during a long push. */
const PROGRESS_EVERY_MS = 10_000;

export interface RetryPolicy {
  attempts: number;
  initialDelay: number;
  maxDelay: number;
}

export interface PushReport {
  hub: string;
  /** Peppers pushed (0: every pepper of the hub already had the current data). */
  peppers: number;
  /** 3PIDs read from the hash sources. */
  threepids: number;
  /** Hashes sent, over all peppers (an email may have several spellings). */
  hashes: number;
  chunks: number;
  ms: number;
}

export interface HubPusherDeps {
  client: HubClient;
  pool: WorkerPool;
  /** The hash sources, asked at each push (providers register while plugins load). */
  sources: () => IdentityProvider[];
  chunkHashes: number;
  retry: RetryPolicy;
  log: FastifyBaseLogger;
}

/** Runs `run`, again after a growing wait while it fails in passing, at most `attempts` times. */
export async function retrying<T>(what: string, run: () => Promise<T>, retry: RetryPolicy, log: FastifyBaseLogger, signal: AbortSignal): Promise<T> {
  let delay = retry.initialDelay;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof HubError) || !err.transient || attempt >= retry.attempts || signal.aborted) throw err;
      const wait = Math.min(Math.max(err.retryAfterMs ?? 0, delay), retry.maxDelay);
      log.warn({ attempt, waitMs: wait, err: err.message }, `${what} failed; retrying`);
      await sleep(wait, undefined, { signal });
      delay = Math.min(delay * 2, retry.maxDelay);
    }
  }
}

/** The chunks of one snapshot: cut at `size` hashes, sent one after another, the last marked final. */
class SnapshotWriter {
  readonly id = randomBytes(16).toString('base64url');
  chunks = 0;
  hashes = 0;
  private buffer: string[] = [];
  private sending: Promise<ChunkReceipt> | null = null;

  constructor(private readonly pepper: string, private readonly size: number, private readonly send: (chunk: Chunk) => Promise<ChunkReceipt>) {}

  /** Resolves once the chunks it filled are on their way (the one before them sent). */
  async add(hashes: string[]): Promise<void> {
    for (const hash of hashes) this.buffer.push(hash);
    // More than a chunk: the first `size` are not the last chunk.
    while (this.buffer.length > this.size) await this.dispatch(this.buffer.splice(0, this.size), false);
  }

  /** Sends what is left (maybe nothing: an empty set is a snapshot too) as the final chunk; resolves when the hub committed it. */
  async finish(): Promise<void> {
    await this.dispatch(this.buffer.splice(0), true);
    const receipt = await this.sending!;
    if (!receipt.committed) throw new HubError('the hub did not commit the snapshot after its final chunk', false);
  }

  abandon(): void {
    this.sending?.catch(() => {});
  }

  private async dispatch(hashes: string[], final: boolean): Promise<void> {
    await this.sending;
    const chunk: Chunk = { pepper: this.pepper, snapshot: this.id, chunk: this.chunks++, final, hashes };
    this.hashes += hashes.length;
    this.sending = this.send(chunk);
    this.sending.catch(() => {}); // observed by the next dispatch or finish
  }
}

export class HubPusher {
  /** Pepper → the local data version last pushed under it. */
  private readonly pushed = new Map<string, number>();

  constructor(private readonly deps: HubPusherDeps) {}

  get url(): string {
    return this.deps.client.url;
  }

  /** Pushes every pepper of the hub whose snapshot is older than `version` (the local data's). */
  async push(version: number, signal: AbortSignal): Promise<PushReport> {
    const { client, retry, log } = this.deps;
    for (let restart = 0; ; restart++) {
      try {
        const { current, alternates } = await retrying('reading the hub\'s hash_details', () => client.peppers(), retry, log, signal);
        const accepted = [current, ...alternates];
        for (const pepper of [...this.pushed.keys()]) if (!accepted.includes(pepper)) this.pushed.delete(pepper);
        const due = accepted.filter((pepper) => this.pushed.get(pepper) !== version);
        const report = await this.pushSnapshots(due, signal);
        for (const pepper of due) this.pushed.set(pepper, version);
        return report;
      } catch (err) {
        const restartable = err instanceof HubError && (err.errcode === 'M_INVALID_PEPPER' || err.status === 409);
        if (!restartable || restart >= MAX_RESTARTS || signal.aborted) throw err;
        log.info({ reason: (err as HubError).errcode ?? (err as HubError).status }, 'the hub refused a chunk: pushing again from its hash_details');
      }
    }
  }

  /** Forgets what was pushed: the next push sends every pepper. */
  forget(): void {
    this.pushed.clear();
  }

  private async pushSnapshots(peppers: string[], signal: AbortSignal): Promise<PushReport> {
    const { client, pool, sources, chunkHashes, retry, log } = this.deps;
    const started = Date.now();
    const report: PushReport = { hub: client.url, peppers: peppers.length, threepids: 0, hashes: 0, chunks: 0, ms: 0 };
    if (peppers.length === 0) return report;
    const send = (chunk: Chunk) => retrying('pushing a chunk', () => client.push(chunk), retry, log, signal);
    const writers = peppers.map((pepper) => new SnapshotWriter(pepper, Math.max(1, chunkHashes), send));
    let nextProgress = started + PROGRESS_EVERY_MS;
    try {
      for await (const batch of hashedThreepids(pool, sources(), peppers, signal)) {
        report.threepids += batch.threepids;
        for (let i = 0; i < writers.length; i++) await writers[i]!.add(batch.hashes[i]!);
        if (Date.now() >= nextProgress) {
          nextProgress = Date.now() + PROGRESS_EVERY_MS;
          log.info({ threepids: report.threepids, chunks: writers.reduce((n, w) => n + w.chunks, 0) }, 'unified view push in progress');
        }
      }
      for (const writer of writers) await writer.finish();
    } catch (err) {
      for (const writer of writers) writer.abandon();
      throw err;
    }
    report.hashes = writers.reduce((n, w) => n + w.hashes, 0);
    report.chunks = writers.reduce((n, w) => n + w.chunks, 0);
    report.ms = Date.now() - started;
    return report;
  }
}
