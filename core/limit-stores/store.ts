/**
 * Where rate-limit budgets live (core/rate-limit.ts): one small interface, one file per
 * backend — ./local.ts (this process's memory) and ./redis.ts (shared by every instance) —
 * chosen by `rateLimit.store`.
 */

/** One key's budget of one limiter: `cost` to spend, refilled one unit every `interval` ms, full after `window` ms. */
export interface Bucket {
  limiter: string;
  key: string;
  cost: number;
  interval: number;
  window: number;
}

export interface LimitStore {
  /**
   * For each bucket, ms until it holds its cost (0: now). With `spend`, when every bucket holds
   * its cost, all are spent, at once for every caller of this store (two instances never both
   * spend a last unit).
   */
  take(buckets: Bucket[], now: number, spend: boolean): Promise<number[]>;
  /** Spends the buckets whether or not they hold their cost. */
  spend(buckets: Bucket[], now: number): Promise<void>;
  /** Forgets `limiter`'s keys whose budget is full again (a store that expires keys itself does nothing). */
  sweep(now: number, limiter: string): Promise<void>;
  close(): Promise<void>;
}

/** ms until a budget full again at `fullAt` holds `cost` (the token bucket's arithmetic, shared by the stores). */
export function waitFor(fullAt: number, now: number, bucket: Bucket): number {
  const untilFull = fullAt - now;
  if (untilFull <= 0) return 0;
  const untilEnough = untilFull + bucket.cost * bucket.interval - bucket.window;
  return Math.max(0, Math.ceil(Math.min(untilFull, untilEnough)));
}
