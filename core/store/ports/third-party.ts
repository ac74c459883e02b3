/**
 * MSC4004 third-party mappings, on a hub: which hashes each trusted member server owns, per
 * lookup pepper. A member pushes a full snapshot for (server, pepper) in chunks; it becomes
 * visible whole when committed, replacing the previous one (hashes it leaves out disappear).
 */

export interface MemberState {
  server: string;
  pepper: string;
  /** When its visible snapshot was committed. */
  pushedAt: number;
  /** Hashes in it. */
  size: number;
}

export interface ThirdPartyMappingStore {
  /**
   * Starts snapshot `snapshot` of what `server` owns for `pepper`, invisible to lookups until
   * committed. Beginning another snapshot for the same (server, pepper) discards an unfinished
   * one; beginning the same one again changes nothing.
   */
  begin(server: string, pepper: string, snapshot: string): Promise<void>;
  /**
   * Adds `hashes` to a begun snapshot (a hash repeated, or a chunk sent again, is kept once).
   * False when there is no such unfinished snapshot (never begun, discarded or committed).
   */
  write(server: string, pepper: string, snapshot: string, hashes: string[]): Promise<boolean>;
  /**
   * Makes the snapshot the visible set of (server, pepper) in one step, replacing the previous
   * set whole, and records `at` as the member's last push. False when there is no such
   * unfinished snapshot.
   */
  commit(server: string, pepper: string, snapshot: string, at: number): Promise<boolean>;
  /** server → the hashes among `hashes` it owns for `pepper` (visible snapshots only). */
  lookup(pepper: string, hashes: string[]): Promise<Record<string, string[]>>;
  /** Each visible snapshot: member, pepper, last push, size (to drop silent members). */
  members(): Promise<MemberState[]>;
  /** Drops everything `server` declared, visible or unfinished (a member gone silent or removed). */
  dropServer(server: string): Promise<void>;
  /** Drops everything declared for peppers not listed (retired peppers; an empty list drops all). */
  retainPeppers(peppers: string[]): Promise<void>;
}
