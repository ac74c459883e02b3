/**
 * Hash lookup's storage ports (contract shared by the core reshape and hash lookup).
 * PepperStore: the lookup pepper and its rotation state, always in the storage backend (shared
 * by instances). HashTableStore: one hash → Matrix ID table per pepper, selected by
 * `hashing.hashStorageType`: `sql` (the storage backend; shared, survives restarts) or
 * `in_memory` (the compact index of plugins/lookup, rebuilt at start).
 * A hash is the unpadded base64url SHA-256 of "<address> <medium> <pepper>" (the spec's).
 */

export interface PepperState {
  pepper: string;
  /** Previous peppers still accepted (MSC4004 alt_lookup_peppers), newest first. */
  altPeppers: string[];
  rotatedAt: number;
  /** Lookups served with the current pepper (rotationPolicy per_requests). */
  requestCount: number;
}

export interface HashEntry {
  hash: string;
  mxid: string;
}

export interface PepperStore {
  getPepperState(): Promise<PepperState | null>;
  /** Sets the pepper state if it still has `expectedPepper` (null: none yet); false when another instance won. */
  swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean>;
  /** Counts one lookup served with `pepper` and returns the new count; 0 when `pepper` is not current. */
  incrementPepperRequests(pepper: string): Promise<number>;
}

export interface HashTableStore {
  /**
   * Replaces the table of `pepper` with `entries` (batches). Lookups keep seeing the previous
   * table until the new one is complete, then the whole new one; if `entries` throws, the
   * previous table stays. A hash repeated in `entries` keeps its first mxid (sources come in
   * priority order).
   */
  replace(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void>;
  /** The entries among `hashes` (any number) in the table of `pepper`, in no particular order. */
  lookup(pepper: string, hashes: string[]): Promise<HashEntry[]>;
  /** Adds or replaces single entries in the table of `pepper` (a bind); no-op when there is no such table. */
  add(pepper: string, entries: HashEntry[]): Promise<void>;
  /** Removes entries of `pepper`'s table whose hash and mxid match (an unbind). */
  remove(pepper: string, entries: HashEntry[]): Promise<void>;
  /** Drops the tables of every pepper not listed (an empty list drops all). */
  retain(peppers: string[]): Promise<void>;
  /** Entries in the table of `pepper` (0 when none). */
  size(pepper: string): Promise<number>;
}
