/**
 * Small cache helpers of the federation client: concurrent asks for the same name share one
 * fetch (a burst of requests must not become a burst of well-known or key fetches), and caches
 * hold a bounded number of names that strangers cannot flush (AdmissionCache).
 */
export class SingleFlight<T> {
  private readonly pending = new Map<string, Promise<T>>();

  /** `work()` for `key`, or the promise of the call for `key` already under way. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    let promise = this.pending.get(key);
    if (!promise) {
      promise = work().finally(() => this.pending.delete(key));
      this.pending.set(key, promise);
    }
    return promise;
  }
}

/**
 * A bounded cache of server names that names chosen by strangers cannot flush. A new entry waits
 * on probation, in a small area of its own; it enters the main area only once vouched for (a
 * request to the resolved server was answered, a key response verified). Made-up names that
 * never vouch for themselves therefore only push out each other. Each area drops its least
 * recently used entry when full, so a homeserver in use stays.
 */
export class AdmissionCache<V> {
  private readonly main = new Map<string, V>();
  private readonly probation = new Map<string, V>();
  private readonly probationSize: number;

  /** `size` names in the main area; probation holds a tenth of that (at least one). */
  constructor(private readonly size: number) {
    this.probationSize = Math.max(1, Math.ceil(size / 10));
  }

  get(key: string): V | undefined {
    const vouched = this.main.get(key);
    if (vouched === undefined) return this.probation.get(key);
    putLast(this.main, key, vouched, this.size);
    return vouched;
  }

  /** Keeps `value` on probation; a vouched-for name just gets the new value. */
  propose(key: string, value: V): void {
    if (this.main.has(key)) putLast(this.main, key, value, this.size);
    else putLast(this.probation, key, value, this.probationSize);
  }

  /** Keeps `value` in the main area. */
  admit(key: string, value: V): void {
    this.probation.delete(key);
    putLast(this.main, key, value, this.size);
  }

  /** Moves the entry on probation for `key`, if any, into the main area. */
  vouch(key: string): void {
    const value = this.probation.get(key);
    if (value !== undefined) this.admit(key, value);
  }
}

/** Sets `key` as the most recently used entry of `map`, dropping the least recently used one when `max` are held. */
function putLast<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}
