/**
 * In-memory sliding-window rate limits (validation: requestToken per requester, messages per
 * address, wrong tokens per session; invitations: mails per address and per inviter). Each
 * instance counts on its own: several unisd instances behind a load balancer each allow the
 * configured number.
 */
import { isIPv6 } from 'node:net';
import { MatrixError } from './errors.js';

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  /** `limit` actions per `windowMs` for each key; a limit of 0 means unlimited. */
  constructor(private readonly limit: number, private readonly windowMs: number) {}

  /** Milliseconds until `key` may act again; 0 when it may now. */
  retryAfter(key: string, now = Date.now()): number {
    if (this.limit === 0) return 0;
    const recent = this.recent(key, now);
    return recent.length < this.limit ? 0 : recent[recent.length - this.limit] + this.windowMs - now;
  }

  record(key: string, now = Date.now()): void {
    if (this.limit === 0) return;
    this.hits.set(key, [...this.recent(key, now), now]);
  }

  /** Records one action of `key`, or throws 429 M_LIMIT_EXCEEDED when it is over the limit. */
  consume(key: string, now = Date.now()): void {
    throwIfLimited(this.retryAfter(key, now));
    this.record(key, now);
  }

  /** Forgets keys with no action left in the window. */
  sweep(now = Date.now()): void {
    for (const key of [...this.hits.keys()]) this.recent(key, now);
  }

  private recent(key: string, now: number): number[] {
    const fresh = (this.hits.get(key) ?? []).filter((time) => time > now - this.windowMs);
    if (fresh.length > 0) this.hits.set(key, fresh);
    else this.hits.delete(key);
    return fresh;
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
