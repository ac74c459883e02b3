/**
 * Rate limits (validation: requestToken per requester, messages per address, wrong tokens per
 * session; invitations: mails per address and per inviter; lookups: addresses per client and
 * per token and user; federation: outbound requests per client; SMS per number and country).
 * The budgets live in a LimitStore (./limit-stores/): each process's memory (`local`, the
 * default) or Redis, shared by every instance (`rateLimit.store`).
 */
import { isIPv6 } from 'node:net';
import { MatrixError } from './errors.js';
import type { Counter, Metrics } from './metrics.js';
import { LocalLimitStore } from './limit-stores/local.js';
import type { Bucket, LimitStore } from './limit-stores/store.js';

export { MAX_LIMITER_KEYS } from './limit-stores/local.js';

export interface LimiterOptions {
  /** Its config key, for metrics (`validation.rateLimit.perAddress`): refusals are counted under it. */
  name: string;
  metrics?: Metrics;
  /** Where budgets are kept; default: a store of its own in this process's memory. */
  store?: LimitStore;
}

export const RATE_LIMIT_REFUSALS = { name: 'unisd_rate_limit_refusals_total', help: 'Requests refused (429) by a rate limit or lookup budget, by limiter (its config key).', labelNames: ['limiter'] };

/**
 * A budget of `limit` units per `windowMs` for each key, refilled continuously (a token bucket,
 * kept as the time it is full again: one number a key). A key may spend the whole budget at
 * once, then one unit every windowMs / limit. Most callers spend one unit per action; lookups
 * spend one per address looked up, so one limiter bounds single and bulk lookups alike.
 *
 * A cost larger than the whole budget is admitted only when the budget is full, and leaves the
 * key waiting for as long as that cost takes to refill: it is never refused forever.
 */
export class RateLimiter {
  readonly store: LimitStore;
  private readonly interval: number;
  private readonly refusals: Counter | undefined;
  private readonly labels: { limiter: string };

  /** `limit` units per `windowMs` for each key; a limit of 0 means unlimited. */
  constructor(private readonly limit: number, private readonly windowMs: number, options: LimiterOptions) {
    this.interval = limit === 0 ? 0 : windowMs / limit;
    this.store = options.store ?? new LocalLimitStore();
    this.refusals = options.metrics?.counter(RATE_LIMIT_REFUSALS);
    this.labels = { limiter: options.name };
  }

  get name(): string {
    return this.labels.limiter;
  }

  /** The budget `key` spends `cost` from; null when unlimited. */
  bucket(key: string, cost: number): Bucket | null {
    return this.limit === 0 ? null : { limiter: this.labels.limiter, key, cost, interval: this.interval, window: this.windowMs };
  }

  /**
   * Milliseconds until `key` may spend `cost`; 0 when it may now. Callers ask right before
   * acting, so a positive answer is counted as a refusal by this limiter.
   */
  async retryAfter(key: string, cost = 1, now = Date.now()): Promise<number> {
    const bucket = this.bucket(key, cost);
    if (!bucket) return 0;
    const [wait] = await this.store.take([bucket], now, false);
    this.countRefusal(wait);
    return wait;
  }

  /** Spends `cost` of `key`'s budget, whether or not it was there (callers check retryAfter first). */
  async record(key: string, cost = 1, now = Date.now()): Promise<void> {
    const bucket = this.bucket(key, cost);
    if (bucket) await this.store.spend([bucket], now);
  }

  /** Spends `cost` of `key`'s budget, or throws 429 M_LIMIT_EXCEEDED (with retry_after_ms) when it is not there. */
  async consume(key: string, cost = 1, now = Date.now()): Promise<void> {
    await consumeAll([[this, key, cost]], now);
  }

  /** Forgets keys whose budget is full again (they are as good as never seen). */
  async sweep(now = Date.now()): Promise<void> {
    await this.store.sweep(now, this.labels.limiter);
  }

  /** Counts a refusal when `wait` is one. */
  countRefusal(wait: number): void {
    if (wait > 0) this.refusals?.inc(this.labels);
  }
}

/**
 * Spends from several budgets at once, all or none: 429 M_LIMIT_EXCEEDED (retry_after_ms: the
 * longest wait) when any lacks its cost, and then nothing is spent. One request to the store
 * when the limiters share it (atomic there), else one per store.
 */
export async function consumeAll(spends: Array<[limiter: RateLimiter, key: string, cost?: number]>, now = Date.now()): Promise<void> {
  const byStore = new Map<LimitStore, Array<{ limiter: RateLimiter; bucket: Bucket }>>();
  for (const [limiter, key, cost = 1] of spends) {
    const bucket = limiter.bucket(key, cost);
    if (!bucket) continue;
    const group = byStore.get(limiter.store) ?? [];
    group.push({ limiter, bucket });
    byStore.set(limiter.store, group);
  }
  const [only, ...others] = [...byStore];
  if (!only) return;
  if (others.length === 0) {
    const [store, group] = only;
    const waits = await store.take(group.map((g) => g.bucket), now, true);
    group.forEach((g, i) => g.limiter.countRefusal(waits[i]));
    return throwIfLimited(Math.max(...waits));
  }
  // Limiters on different stores: check all, then spend all.
  let wait = 0;
  for (const [store, group] of byStore) {
    const waits = await store.take(group.map((g) => g.bucket), now, false);
    group.forEach((g, i) => g.limiter.countRefusal(waits[i]));
    wait = Math.max(wait, ...waits);
  }
  throwIfLimited(wait);
  for (const [store, group] of byStore) await store.spend(group.map((g) => g.bucket), now);
}

export function throwIfLimited(retryAfterMs: number): void {
  if (retryAfterMs > 0) throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests, try again later', { retry_after_ms: retryAfterMs });
}

/**
 * The key a requester is limited under: its IP, or for IPv6 its /64 network, since one host is
 * routinely given a whole /64 and could otherwise pick a fresh address for every request.
 */
export function requesterKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  // A trailing dotted quad holds the last two groups; it never reaches the first four.
  const width = (parts: string[]): number => parts.reduce((n, part) => n + (part.includes('.') ? 2 : 1), 0);
  const [head, tail] = ip.split('%')[0].split('::');
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const full = [...before, ...Array<string>(8 - width(before) - width(after)).fill('0'), ...after];
  return `${full.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}
