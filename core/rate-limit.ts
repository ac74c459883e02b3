/**
 * In-memory rate limits (validation: requestToken per requester, messages per address, wrong
 * tokens per session; invitations: mails per address and per inviter; lookups: addresses per
 * client; federation: outbound requests per client). Each instance counts on its own: several
 * unisd instances behind a load balancer each allow the configured number.
 */
import { isIPv6 } from 'node:net';
import { MatrixError } from './errors.js';

/**
 * Keys a limiter remembers at most. Past it the least recently active key is forgotten, so
 * rotating or spoofed keys cannot grow memory (about 100 bytes a key); a forgotten key starts
 * afresh, which takes that many other keys acting in between.
 */
export const MAX_LIMITER_KEYS = 100_000;

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
  /** key → when its budget is full again (ms); in least recently active order. */
  private readonly fullAt = new Map<string, number>();
  private readonly interval: number;

  /** `limit` units per `windowMs` for each key; a limit of 0 means unlimited. */
  constructor(private readonly limit: number, private readonly windowMs: number, private readonly maxKeys = MAX_LIMITER_KEYS) {
    this.interval = limit === 0 ? 0 : windowMs / limit;
  }

  /** Milliseconds until `key` may spend `cost`; 0 when it may now. */
  retryAfter(key: string, cost = 1, now = Date.now()): number {
    if (this.limit === 0) return 0;
    const untilFull = (this.fullAt.get(key) ?? now) - now;
    if (untilFull <= 0) return 0;
    const untilEnough = untilFull + cost * this.interval - this.windowMs;
    return Math.max(0, Math.ceil(Math.min(untilFull, untilEnough)));
  }

  /** Spends `cost` of `key`'s budget, whether or not it was there (callers check retryAfter first). */
  record(key: string, cost = 1, now = Date.now()): void {
    if (this.limit === 0) return;
    const fullAt = Math.max(this.fullAt.get(key) ?? now, now) + cost * this.interval;
    this.fullAt.delete(key); // re-inserted last: the most recently active key
    this.fullAt.set(key, fullAt);
    if (this.fullAt.size > this.maxKeys) this.fullAt.delete(this.fullAt.keys().next().value!);
  }

  /** Spends `cost` of `key`'s budget, or throws 429 M_LIMIT_EXCEEDED (with retry_after_ms) when it is not there. */
  consume(key: string, cost = 1, now = Date.now()): void {
    throwIfLimited(this.retryAfter(key, cost, now));
    this.record(key, cost, now);
  }

  /** Forgets keys whose budget is full again (they are as good as never seen). */
  sweep(now = Date.now()): void {
    for (const [key, fullAt] of this.fullAt) if (fullAt <= now) this.fullAt.delete(key);
  }

  /** Keys remembered now. */
  get size(): number {
    return this.fullAt.size;
  }
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
