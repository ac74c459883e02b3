/**
 * The identity provider contract: what a provider plugin implements and registers with
 * `app.providers` (core/providers/registry.ts). The registry gives every call a deadline
 * (`signal`), catches and counts failures, and asks the next provider: a provider never has
 * to protect the lookup from itself, only to honour `signal` and release what it holds in
 * `close()`.
 */
import type { Medium, ThreePid } from '../store/port.js';

/** A 3PID and the Matrix ID that owns it. `address` is normalised (core/threepid.ts). */
export interface Mapping extends ThreePid {
  mxid: string;
}

/** A mapping and the provider that answered it (logs, metrics, MSC4004 attribution). */
export interface ProviderMapping extends Mapping {
  provider: string;
}

export interface ProviderCapabilities {
  /** The media this provider can answer; the registry asks it about no other. */
  media: readonly Medium[];
  /** bulkLookup answers many 3PIDs in one round trip; when false the registry calls lookup per item. */
  bulk: boolean;
  /** `mappings()` streams every mapping, and the operator enabled hashing for this provider. */
  hashSource: boolean;
}

/** Largest batch a provider yields from `mappings()`; the index consumes batches one at a time. */
export const MAPPING_BATCH_SIZE = 1000;

export interface IdentityProvider {
  /** Unique, for logs, metrics and config errors. */
  readonly name: string;
  /** Lower answers first. 0 is reserved for local binds; providers use 1 and up (the registry refuses 0). */
  readonly priority: number;
  readonly capabilities: ProviderCapabilities;
  /** The Matrix ID owning `threepid` (normalised), or null. */
  lookup(threepid: ThreePid, signal: AbortSignal): Promise<string | null>;
  /** The mappings known for any of `threepids` (unknown ones left out). */
  bulkLookup(threepids: ThreePid[], signal: AbortSignal): Promise<Mapping[]>;
  /**
   * Every mapping, in batches of at most MAPPING_BATCH_SIZE, read from the backend as they are
   * consumed (a cursor or pages: constant memory whatever the directory's size). Present when
   * capabilities.hashSource is true. Addresses are normalised.
   */
  mappings?(signal: AbortSignal): AsyncIterable<Mapping[]>;
  /** Releases pools and connections; called once when the app closes. */
  close?(): Promise<void>;
}
