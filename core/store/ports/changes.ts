/**
 * The change log: what one instance changed that the others keep in memory (the hash index,
 * the current pepper), so every instance sharing the store follows. Appends are ordered by a
 * sequence number; readers keep a cursor and read what comes after it. `watch` is a wake-up
 * hint only (LISTEN/NOTIFY, change streams): a reader also polls, so a missed hint heals by
 * itself on the next read.
 */
import type { Medium } from './threepid.js';

export type StoreChange =
  | { kind: 'bind'; medium: Medium; address: string; mxid: string }
  | { kind: 'unbind'; medium: Medium; address: string; mxid: string }
  | { kind: 'pepper-rotated'; pepper: string; previous: string | null; since?: number }
  | { kind: 'provider-data-changed'; provider: string };

export interface ChangeRecord {
  /** Increasing; a record is never visible to readers before every record with a lower seq. */
  seq: number;
  /** The instance that made the change (a reader skips its own). */
  origin: string;
  change: StoreChange;
  at: number;
}

export interface ChangeLog {
  /** Appends a change made by instance `origin` and returns its seq. */
  append(origin: string, change: StoreChange, at: number): Promise<number>;
  /** Records with seq > `after`, lowest first, at most `limit`. */
  readAfter(after: number, limit: number): Promise<ChangeRecord[]>;
  /** The highest seq (0 when the log is empty): where a starting instance begins reading. */
  latest(): Promise<number>;
  /**
   * Calls `wake` soon after any instance appends (a hint, possibly dropped or repeated).
   * Resolves to the function that stops watching. A backend without notifications returns a
   * no-op stop and readers rely on polling.
   */
  watch(wake: () => void): Promise<() => Promise<void>>;
  /** Removes records older than `t` (readers more than that far behind rebuild instead). */
  deleteBefore(t: number): Promise<void>;
}
