/**
 * Budgets in Redis (`rateLimit.store: redis`), shared by every instance: each budget is one
 * key holding when it is full again, expiring then, checked and spent by one Lua script (atomic
 * in Redis: two instances never both spend a last unit). Keys are hashed: no address, user or
 * token appears in Redis.
 *
 * When Redis is down or slow (no answer within `rateLimit.redis.timeout`) the request is
 * counted in this process's memory instead: limits keep holding, per instance (N instances
 * allow at most N times them), and unisd keeps answering. Failing closed would turn a Redis
 * outage into an outage of validation and lookups; failing open would lift every limit,
 * SMS toll-fraud protection included, exactly when no one is counting.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { LocalLimitStore } from './local.js';
import type { Bucket, LimitStore } from './store.js';

/**
 * KEYS: the buckets. ARGV: now, mode (check: spend nothing; take: spend all when all hold their
 * cost; force: spend all), then cost, interval, window per bucket. Returns the waits.
 */
const TAKE = `
local now = tonumber(ARGV[1])
local waits = {}
local all = true
for i, key in ipairs(KEYS) do
  local cost, interval, window = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  local untilFull = (tonumber(redis.call('GET', key)) or now) - now
  local wait = 0
  if untilFull > 0 then wait = math.max(0, math.ceil(math.min(untilFull, untilFull + cost * interval - window))) end
  waits[i] = wait
  if wait > 0 then all = false end
end
if ARGV[2] == 'force' or (ARGV[2] == 'take' and all) then
  for i, key in ipairs(KEYS) do
    local cost, interval = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
    local fullAt = math.max(tonumber(redis.call('GET', key)) or now, now) + cost * interval
    redis.call('SET', key, string.format('%.0f', fullAt), 'PX', math.max(1, math.ceil(fullAt - now)))
  end
end
return waits
`;

/** At most one "Redis unreachable" line per this many ms. */
const LOG_EVERY_MS = 30_000;

export interface RedisLimitOptions {
  uri: string;
  /** ms a request waits for Redis before counting locally. */
  timeout: number;
  /** Prefix of the keys. */
  prefix: string;
  log: FastifyBaseLogger;
  /** Called each time a request is counted locally because Redis failed (a metric). */
  onFallback?: () => void;
}

export class RedisLimitStore implements LimitStore {
  private readonly redis: Redis;
  private readonly fallback = new LocalLimitStore();
  private lastLogged = 0;

  constructor(private readonly options: RedisLimitOptions) {
    if (!options.uri) throw new Error('rateLimit.redis.uri: required when rateLimit.store is redis');
    this.redis = new Redis(options.uri, {
      // Fail at once while disconnected, rather than queue requests behind a dead connection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeout,
      connectTimeout: Math.max(options.timeout, 1000),
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    this.redis.on('error', (err) => this.failed(err));
    // Sent once, then run by its SHA (EVALSHA).
    this.redis.defineCommand('unisdTake', { lua: TAKE });
  }

  /** Resolves once connected, or after `timeout` when Redis does not answer (then requests count locally until it does). */
  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.timeout);
      this.redis.once('ready', () => { clearTimeout(timer); resolve(); });
    });
  }

  take(buckets: Bucket[], now: number, spend: boolean): Promise<number[]> {
    return this.run(buckets, now, spend ? 'take' : 'check');
  }

  async spend(buckets: Bucket[], now: number): Promise<void> {
    await this.run(buckets, now, 'force');
  }

  private async run(buckets: Bucket[], now: number, mode: 'check' | 'take' | 'force'): Promise<number[]> {
    if (buckets.length === 0) return [];
    try {
      const args = [String(now), mode, ...buckets.flatMap((b) => [String(b.cost), String(b.interval), String(b.window)])];
      const take = (this.redis as unknown as { unisdTake(keys: number, ...args: string[]): Promise<number[]> }).unisdTake;
      const waits = await take.call(this.redis, buckets.length, ...buckets.map((bucket) => this.key(bucket)), ...args);
      return waits.map(Number);
    } catch (err) {
      this.failed(err as Error);
      if (mode !== 'force') return this.fallback.takeNow(buckets, now, mode === 'take');
      this.fallback.spendNow(buckets, now);
      return buckets.map(() => 0);
    }
  }

  /** Redis expires full budgets itself; the local fallback is swept. */
  async sweep(now: number, limiter: string): Promise<void> {
    await this.fallback.sweep(now, limiter);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.fallback.close();
  }

  private key(bucket: Bucket): string {
    return `${this.options.prefix}${createHash('sha256').update(`${bucket.limiter}\0${bucket.key}`).digest('base64url').slice(0, 32)}`;
  }

  private failed(err: Error): void {
    this.options.onFallback?.();
    const now = Date.now();
    if (now - this.lastLogged < LOG_EVERY_MS) return;
    this.lastLogged = now;
    this.options.log.error({ err: err.message }, 'rate limits: Redis unreachable, counting in this process meanwhile');
  }
}

