/** Budgets in this process's memory (`rateLimit.store: local`): each instance counts on its own. */
import { waitFor, type Bucket, type LimitStore } from './store.js';

/**
 * Keys a limiter remembers at most. Past it the least recently active key is forgotten, so
 * rotating or spoofed keys cannot grow memory (about 100 bytes a key); a forgotten key starts
 * afresh, which takes that many other keys acting in between.
 */
export const MAX_LIMITER_KEYS = 100_000;

export class LocalLimitStore implements LimitStore {
  /** limiter → key → when its budget is full again (ms), in least recently active order. */
  private readonly limiters = new Map<string, Map<string, number>>();

  constructor(private readonly maxKeys = MAX_LIMITER_KEYS) {}

  async take(buckets: Bucket[], now: number, spend: boolean): Promise<number[]> {
    return this.takeNow(buckets, now, spend);
  }

  /** take(), synchronously (the Redis store falls back to it). */
  takeNow(buckets: Bucket[], now: number, spend: boolean): number[] {
    const waits = buckets.map((b) => waitFor(this.keys(b.limiter).get(b.key) ?? now, now, b));
    if (spend && waits.every((wait) => wait === 0)) this.spendNow(buckets, now);
    return waits;
  }

  async spend(buckets: Bucket[], now: number): Promise<void> {
    this.spendNow(buckets, now);
  }

  spendNow(buckets: Bucket[], now: number): void {
    for (const b of buckets) {
      const keys = this.keys(b.limiter);
      const fullAt = Math.max(keys.get(b.key) ?? now, now) + b.cost * b.interval;
      keys.delete(b.key); // re-inserted last: the most recently active key
      keys.set(b.key, fullAt);
      if (keys.size > this.maxKeys) keys.delete(keys.keys().next().value!);
    }
  }

  async sweep(now: number, limiter: string): Promise<void> {
    const keys = this.limiters.get(limiter);
    for (const [key, fullAt] of keys ?? []) if (fullAt <= now) keys!.delete(key);
  }

  /** Keys `limiter` remembers now. */
  size(limiter: string): number {
    return this.limiters.get(limiter)?.size ?? 0;
  }

  async close(): Promise<void> {
    this.limiters.clear();
  }

  private keys(limiter: string): Map<string, number> {
    let keys = this.limiters.get(limiter);
    if (!keys) this.limiters.set(limiter, (keys = new Map()));
    return keys;
  }
}
