/** Storage of binds: the associations between a 3PID and a Matrix ID. */
import type { Medium, ThreePid } from './threepid.js';

/** A bind: the signed association answered to /3pid/bind, kept verbatim for v1 lookups. */
export interface Association extends ThreePid {
  mxid: string;
  ts: number;
  notBefore: number;
  notAfter: number;
  /** The signed association object exactly as answered. */
  signed: Record<string, unknown>;
}

export interface BindStore {
  /** Stores the bind, replacing any previous one for that 3PID. */
  put(association: Association): Promise<void>;
  /**
   * Stores many binds as `put` does each, in one write where the backend has one (a transaction,
   * a bulk write): how `unisd import` writes a page of binds. Callers give each 3PID once.
   */
  putMany(associations: Association[]): Promise<void>;
  get(medium: Medium, address: string): Promise<Association | null>;
  /** The binds among `threepids` (any number; unknown ones are absent), in no particular order. */
  getMany(threepids: ThreePid[]): Promise<Association[]>;
  /** Removes the bind of that 3PID if it is to `mxid`; true when one was removed. */
  delete(medium: Medium, address: string, mxid: string): Promise<boolean>;
  /** The binds of `mxid` (a user's 3PIDs), sorted by medium then address. */
  byMxid(mxid: string): Promise<Association[]>;
  /** Every bind, read in pages (safe to await between items). */
  stream(): AsyncIterable<Association>;
}
