/**
 * Leases: work that one instance among several must do alone (pepper rotation, purges, onbind
 * delivery sweeps) is done by whoever holds its named lease. A lease has an expiry, so when its
 * holder dies another instance takes it over once the lease time has passed.
 */

export interface LeaseStore {
  /**
   * Takes lease `name` for `holder` until `now + ttlMs` when it is free, expired, or already
   * held by `holder` (then it is renewed). True when `holder` holds it afterwards. Atomic across
   * instances: two callers never both get true for the same unexpired lease.
   */
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives the lease up when `holder` holds it; otherwise changes nothing. */
  release(name: string, holder: string): Promise<void>;
}
