/** The queue of 3pid/onbind notifications to homeservers. */
import type { ThreePid } from './threepid.js';

export interface OnbindDelivery {
  id: string;
  /** Server name of the homeserver to deliver to. */
  destination: string;
  body: Record<string, unknown>;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
}

export interface OnbindStore {
  /** Queues a delivery; one already queued under the same id is left as it is (the same notification queued again). */
  enqueue(delivery: OnbindDelivery): Promise<void>;
  /** Up to `limit` deliveries with nextAttemptAt <= now, earliest first. */
  due(now: number, limit: number): Promise<OnbindDelivery[]>;
  /**
   * Takes up to `limit` due deliveries for this process: atomically moves their nextAttemptAt to
   * `leaseUntil`, so another instance sharing the store does not send them too, and a process that
   * dies mid-delivery leaves them to be retried when the lease ends. Returns them as leased.
   */
  claim(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]>;
  get(id: string): Promise<OnbindDelivery | null>;
  reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void>;
  /**
   * Deletes the deliveries about a user or a 3PID: those whose body's `mxid` is `filter.mxid`,
   * and those whose body's `medium` and `address` are `filter.threepid` (at least one is given).
   * Returns how many.
   */
  deleteConcerning(filter: { mxid?: string; threepid?: ThreePid }): Promise<number>;
  delete(id: string): Promise<void>;
  /** Deliveries queued now, due or not (metrics). */
  count(): Promise<number>;
}
