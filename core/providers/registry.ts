/**
 * The identity providers, asked in priority order (lower first; local binds are 0). Every call
 * gets `providers.timeout`; a provider that throws, hangs or answers garbage is skipped for that
 * request, logged (its name and the kind of failure, never the 3PID) and counted, and the
 * request is answered with what the others found: a provider down degrades lookups, never fails them.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ThreePid } from '../store/port.js';
import type { IdentityProvider, Mapping, ProviderMapping } from './provider.js';
import type { Counter, Histogram, Metrics } from '../metrics.js';

export const threepidKey = (t: ThreePid): string => `${t.medium}\u0000${t.address}`;

export type ProviderFailure = 'timeout' | 'error' | 'invalid-answer';

export interface RegistryOptions {
  /** Deadline of one provider call, in milliseconds. */
  timeout: number;
  log: FastifyBaseLogger;
  metrics?: Metrics;
}

/** Priority 0 is the local binds' (the binds plugin registers them with `local: true`). */
const LOCAL_PRIORITY = 0;

const isMapping = (value: unknown): value is Mapping => {
  const m = value as Mapping;
  return typeof m === 'object' && m !== null && typeof m.medium === 'string' && typeof m.address === 'string'
    && typeof m.mxid === 'string' && m.mxid.startsWith('@');
};

class ProviderTimeout extends Error {}

export class ProviderRegistry {
  private providers: IdentityProvider[] = [];
  /** Failures per provider and kind, since start. */
  readonly failures = new Map<string, Record<ProviderFailure, number>>();
  private readonly calls: Counter | undefined;
  private readonly failed: Counter | undefined;
  private readonly duration: Histogram | undefined;

  constructor(private readonly options: RegistryOptions) {
    this.calls = options.metrics?.counter({ name: 'unisd_provider_calls_total', help: 'Identity provider calls (lookup, bulk lookup), by provider.', labelNames: ['provider'] });
    this.failed = options.metrics?.counter({ name: 'unisd_provider_failures_total', help: 'Identity provider calls that failed (timeout, error, invalid-answer), by provider; the lookup was answered without them.', labelNames: ['provider', 'kind'] });
    this.duration = options.metrics?.histogram({
      name: 'unisd_provider_call_duration_seconds', help: 'Duration of identity provider calls, by provider (failed ones included).', labelNames: ['provider'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  register(provider: IdentityProvider, { local = false }: { local?: boolean } = {}): void {
    if (this.providers.some((p) => p.name === provider.name)) throw new Error(`identity provider "${provider.name}" is registered twice`);
    if (!Number.isInteger(provider.priority) || provider.priority < 0) throw new Error(`identity provider "${provider.name}": priority must be a whole number`);
    if ((provider.priority === LOCAL_PRIORITY) !== local) {
      throw new Error(`identity provider "${provider.name}": priority 0 is reserved for local binds; use 1 or more`);
    }
    this.providers = [...this.providers, provider].sort((a, b) => a.priority - b.priority);
  }

  list(): readonly IdentityProvider[] {
    return this.providers;
  }

  /** The providers that feed hash lookup, in priority order (a 3PID known to several: the first wins). */
  hashSources(): IdentityProvider[] {
    return this.providers.filter((p) => p.capabilities.hashSource && p.mappings);
  }

  async lookup(threepid: ThreePid): Promise<ProviderMapping | null> {
    for (const provider of this.asking(threepid.medium)) {
      const mxid = await this.call(provider, (signal) => provider.lookup(threepid, signal), (v): v is string | null => v === null || (typeof v === 'string' && v.startsWith('@')));
      if (mxid) return { ...threepid, mxid, provider: provider.name };
    }
    return null;
  }

  /** The mappings of `threepids` found by any provider; each provider is asked only what the ones before it did not find. */
  async bulkLookup(threepids: ThreePid[]): Promise<ProviderMapping[]> {
    const found = new Map<string, ProviderMapping>();
    const asked = new Set(threepids.map(threepidKey));
    let pending = threepids;
    for (const provider of this.providers) {
      if (pending.length === 0) break;
      const mine = pending.filter((t) => provider.capabilities.media.includes(t.medium));
      if (mine.length === 0) continue;
      const answer = await this.call(provider, (signal) => this.askBulk(provider, mine, signal), (v): v is Mapping[] => Array.isArray(v) && v.every(isMapping));
      for (const mapping of answer ?? []) {
        const key = threepidKey(mapping);
        // A provider may only answer what it was asked.
        if (asked.has(key) && !found.has(key)) found.set(key, { medium: mapping.medium, address: mapping.address, mxid: mapping.mxid, provider: provider.name });
      }
      pending = pending.filter((t) => !found.has(threepidKey(t)));
    }
    return [...found.values()];
  }

  /** Closes every provider; one failing does not keep the others open. */
  async close(): Promise<void> {
    await Promise.all(this.providers.map(async (provider) => {
      try {
        await provider.close?.();
      } catch (err) {
        this.options.log.warn({ provider: provider.name, err: (err as Error).message }, 'identity provider failed to close');
      }
    }));
  }

  private asking(medium: string): IdentityProvider[] {
    return this.providers.filter((p) => p.capabilities.media.includes(medium));
  }

  private async askBulk(provider: IdentityProvider, threepids: ThreePid[], signal: AbortSignal): Promise<Mapping[]> {
    if (provider.capabilities.bulk) return provider.bulkLookup(threepids, signal);
    const found: Mapping[] = [];
    for (const threepid of threepids) {
      if (signal.aborted) throw new ProviderTimeout();
      const mxid = await provider.lookup(threepid, signal);
      if (mxid) found.push({ ...threepid, mxid });
    }
    return found;
  }

  /** Runs one provider call under the deadline; undefined when it failed (logged and counted). */
  private async call<T>(provider: IdentityProvider, run: (signal: AbortSignal) => Promise<unknown>, valid: (value: unknown) => value is T): Promise<T | undefined> {
    this.calls?.inc({ provider: provider.name });
    const timed = this.duration?.startTimer({ provider: provider.name });
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new ProviderTimeout());
      }, this.options.timeout);
    });
    try {
      const value = await Promise.race([run(controller.signal), deadline]);
      if (valid(value)) return value;
      this.fail(provider, 'invalid-answer');
    } catch (err) {
      this.fail(provider, err instanceof ProviderTimeout ? 'timeout' : 'error', err);
    } finally {
      clearTimeout(timer);
      timed?.();
    }
    return undefined;
  }

  private fail(provider: IdentityProvider, kind: ProviderFailure, err?: unknown): void {
    const counts = this.failures.get(provider.name) ?? { timeout: 0, error: 0, 'invalid-answer': 0 };
    counts[kind]++;
    this.failures.set(provider.name, counts);
    this.failed?.inc({ provider: provider.name, kind });
    // The error's message may quote the 3PID (a driver echoing its query): log its class only.
    this.options.log.warn({ provider: provider.name, failure: kind, errorType: err instanceof Error ? err.constructor.name : undefined }, 'identity provider call failed; answering without it');
  }
}
