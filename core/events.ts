/**
 * One typed in-process event bus, decorated as `app.events`: the binds plugin says that a bind
 * happened, and whoever cares (the hash index, the MSC4004 pusher, metrics) subscribes, without
 * the emitter knowing them. A listener's failure is logged and never reaches the emitter.
 *
 * Several instances sharing a store follow each other's changes (core/changes.ts): what another
 * instance did is emitted here too, with `remote: true`. It is already committed to the shared
 * store: a listener that writes to the store (the sql hash tables) must not write it again, one
 * that keeps memory (the in_memory hash index) applies it.
 */
import type { Medium } from './store/port.js';

/** true: another instance (or worker process) made the change; absent: this one did. */
export interface Remote { remote?: boolean }

export interface UnisdEvents {
  /** A 3PID was bound to `mxid` (committed to the store). */
  bind: { medium: Medium; address: string; mxid: string } & Remote;
  /** The bind of a 3PID to `mxid` was removed (committed). */
  unbind: { medium: Medium; address: string; mxid: string } & Remote;
  /**
   * The current lookup pepper changed; `previous` stays accepted while it is an alternate.
   * `since`: the change-log seq the new pepper's table was built after (set by the instance that
   * built it; see plugins/lookup/rotation.ts, adoptedRemote).
   */
  'pepper-rotated': { pepper: string; previous: string | null; since?: number } & Remote;
  /** A provider's data changed (a reload, a push): hash tables built from it are stale. */
  'provider-data-changed': { provider: string } & Remote;
}

export type EventName = keyof UnisdEvents;
export type Listener<K extends EventName> = (payload: UnisdEvents[K]) => void | Promise<void>;

export class EventBus {
  private readonly listeners = new Map<EventName, Set<Listener<any>>>();

  constructor(private readonly onListenerError: (event: EventName, err: unknown) => void) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends EventName>(event: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Calls every listener of `event` and resolves once each has finished (failures logged, as with
   * emit): for who must not answer before the listeners are done (an erasure: a lookup made right
   * after it must not find what it erased).
   */
  async emitAndWait<K extends EventName>(event: K, payload: UnisdEvents[K]): Promise<void> {
    await Promise.all([...(this.listeners.get(event) ?? [])].map(async (listener) => {
      try {
        await listener(payload);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }));
  }

  /** Calls every listener of `event` now; an async listener runs on, its rejection is logged. */
  emit<K extends EventName>(event: K, payload: UnisdEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((err) => this.onListenerError(event, err));
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }
}
