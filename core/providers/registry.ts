/**
 * Identity providers answer "which Matrix ID owns this 3PID?". Each provider plugin registers
 * one provider here; lookups ask them in priority order (lower first; local binds are 0) and
 * the first answer wins. Providers that feed hash lookup also stream all their pairs.
 */
import type { ThreePid } from '../store/port.js';

export interface Mapping extends ThreePid {
  mxid: string;
}

export interface IdentityProvider {
  /** Unique, for logs and config errors. */
  readonly name: string;
  /** Lower answers first. 0 is local binds; providers use 10 and up. */
  readonly priority: number;
  lookup(threepid: ThreePid): Promise<string | null>;
  /** The mappings known for any of `threepids` (unknown ones are left out). */
  bulkLookup(threepids: ThreePid[]): Promise<Mapping[]>;
  /** Every mapping, for building hash tables; absent when this provider does not feed hash lookup. */
  streamAll?(): AsyncIterable<Mapping>;
}

export const threepidKey = (t: ThreePid): string => `${t.medium}\u0000${t.address}`;

export class ProviderRegistry {
  private providers: IdentityProvider[] = [];

  register(provider: IdentityProvider): void {
    if (this.providers.some((p) => p.name === provider.name)) throw new Error(`identity provider "${provider.name}" is registered twice`);
    this.providers = [...this.providers, provider].sort((a, b) => a.priority - b.priority);
  }

  list(): readonly IdentityProvider[] {
    return this.providers;
  }

  async lookup(threepid: ThreePid): Promise<Mapping | null> {
    for (const provider of this.providers) {
      const mxid = await provider.lookup(threepid);
      if (mxid) return { ...threepid, mxid };
    }
    return null;
  }

  async bulkLookup(threepids: ThreePid[]): Promise<Mapping[]> {
    const found = new Map<string, Mapping>();
    let pending = threepids;
    for (const provider of this.providers) {
      if (pending.length === 0) break;
      for (const mapping of await provider.bulkLookup(pending)) {
        const key = threepidKey(mapping);
        if (!found.has(key)) found.set(key, mapping);
      }
      pending = pending.filter((t) => !found.has(threepidKey(t)));
    }
    return [...found.values()];
  }

  /** All mappings of the providers that feed hashing; a 3PID known to several counts once, from the first. */
  async *streamAll(): AsyncIterable<Mapping> {
    const seen = new Set<string>();
    for (const provider of this.providers) {
      if (!provider.streamAll) continue;
      for await (const mapping of provider.streamAll()) {
        const key = threepidKey(mapping);
        if (seen.has(key)) continue;
        seen.add(key);
        yield mapping;
      }
    }
  }
}
