/** The queue of 3pid/onbind notifications to homeservers. */

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
  reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void>;
  delete(id: string): Promise<void>;
}
