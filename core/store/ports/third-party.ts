/**
 * MSC4004 third-party mappings, on a hub: which hashes each trusted member server owns, per
 * lookup pepper. A member pushes a full snapshot for (server, pepper) in numbered chunks; it
 * becomes visible whole when committed, replacing the previous one (hashes it leaves out
 * disappear). Which chunks of an open snapshot arrived is kept here, not in a process: with
 * several hub instances behind one address, the chunks of one snapshot reach different ones.
 */

export interface MemberState {
  server: string;
  pepper: string;
  /** The member's id of its visible snapshot. */
  snapshot: string;
  /** When its visible snapshot was committed. */
  pushedAt: number;
  /** Hashes in it. */
  size: number;
}

export type CommitResult = 'committed' | 'incomplete' | 'unknown';

export interface ThirdPartyMappingStore {
  /**
   * Starts snapshot `snapshot` of what `server` owns for `pepper`, invisible to lookups until
   * committed. Beginning another snapshot for the same (server, pepper) discards an unfinished
   * one; beginning the same one again changes nothing. False (and nothing changed) when
   * `snapshot` is the visible one: a late or replayed chunk must not reopen it.
   */
  begin(server: string, pepper: string, snapshot: string): Promise<boolean>;
  /**
   * Adds chunk number `chunk` (`hashes`) to a begun snapshot; a hash repeated, or a chunk sent
   * again, is kept once. The number of distinct chunks received so far, or null when there is
   * no such unfinished snapshot (never begun, discarded or committed).
   */
  write(server: string, pepper: string, snapshot: string, chunk: number, hashes: string[]): Promise<number | null>;
  /**
   * Makes the snapshot the visible set of (server, pepper) in one step, replacing the previous
   * set whole, and records `at` as the member's last push — only when exactly the chunks
   * 0..`chunks`-1 were written ('incomplete' otherwise, the snapshot staying open). 'unknown'
   * when there is no such unfinished snapshot.
   */
  commit(server: string, pepper: string, snapshot: string, chunks: number, at: number): Promise<CommitResult>;
  /** server → the hashes among `hashes` it owns for `pepper` (visible snapshots only). */
  lookup(pepper: string, hashes: string[]): Promise<Record<string, string[]>>;
  /**
   * The hashes of the visible snapshot of (server, pepper), in batches, read as they are
   * consumed (a hub loads its in-memory index from them). Ends early if that snapshot is
   * replaced meanwhile: compare members()' snapshot id before and after.
   */
  visibleHashes(server: string, pepper: string): AsyncIterable<string[]>;
  /** Each visible snapshot: member, pepper, snapshot id, last push, size (to follow commits and drop silent members). */
  members(): Promise<MemberState[]>;
  /** Drops everything `server` declared, visible or unfinished (a member gone silent or removed). */
  dropServer(server: string): Promise<void>;
  /** Drops everything declared for peppers not listed (retired peppers; an empty list drops all). */
  retainPeppers(peppers: string[]): Promise<void>;
}
