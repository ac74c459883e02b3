/**
 * Small cache helpers of the federation client: concurrent asks for the same name share one
 * fetch (a burst of requests must not become a burst of well-known or key fetches), and caches
 * keep at most a bounded number of names.
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

/** Sets `key` as the newest entry of `map`, dropping the oldest when `max` entries are held. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}
