/**
 * The 3pid/onbind delivery queue. A notification waits in the store until the bound user's
 * homeserver accepts it, so neither a restart nor an unreachable homeserver loses one. One worker
 * per process claims what is due (instances sharing a store do not send the same one at once),
 * delivers it and retries failures with exponential backoff; between passes it sleeps until the
 * earliest queued delivery is due. Delivery is at least once: a process that dies after the
 * homeserver accepted, before the queue forgot, sends it again when its lease ends; the
 * homeserver then finds the invites' tokens already used.
 */
import type { FastifyBaseLogger } from 'fastify';
import { createHash } from 'node:crypto';
import type { OnbindDelivery, OnbindStore, ThreePid } from '../../core/store/port.js';
import type { Federation, FederationResponse } from '../../core/federation/types.js';
import { MAX_TIMER_DELAY } from '../../core/timers.js';

export const ONBIND_PATH = '/_matrix/federation/v1/3pid/onbind';

export interface OnbindOptions {
  /** Attempts before a delivery is dropped; 0 keeps trying. */
  maxAttempts: number;
  /** ms before the first retry; doubles on each failure. */
  initialBackoff: number;
  /** ms, longest wait between retries, and between idle checks of the queue. */
  maxBackoff: number;
  /**
   * ms a claimed delivery stays reserved for this process (longer than one attempt can take):
   * other instances sharing the store leave it alone, and if this process dies it is retried after.
   */
  lease: number;
}

/**
 * The queue id of the notification handing `tokens` (the invites) to `mxid` for `threepid`: a
 * 3PID bound again to the same user before delivery queues the same id, which the store keeps once.
 */
export function onbindId(mxid: string, threepid: ThreePid, tokens: string[]): string {
  return createHash('sha256').update(JSON.stringify([mxid, threepid.medium, threepid.address, [...tokens].sort()])).digest('base64url');
}

/** Deliveries attempted concurrently in one pass. */
const BATCH = 50;

/**
 * 4xx answers other than timeouts and rate limits are the homeserver's final word (Synapse: a
 * bad signature, an unknown room): retrying would not change them.
 */
const isFinalRejection = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;

export class OnbindQueue {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private stopped = true;

  constructor(
    private readonly store: OnbindStore,
    private readonly federation: Federation,
    private readonly options: OnbindOptions,
    private readonly log: FastifyBaseLogger,
    /** Called with a delivered notification's body (the invites it carried are no longer pending). */
    private readonly onDelivered: (body: Record<string, unknown>) => Promise<void>,
  ) {}

  /**
   * Persists a notification for `destination` under `id` (onbindId; one already queued under it
   * stays as it is) and wakes the worker; resolves once it is stored, never waits for delivery.
   */
  async enqueue(id: string, destination: string, body: Record<string, unknown>): Promise<void> {
    const now = Date.now();
    await this.store.enqueue({ id, destination, body, attempts: 0, nextAttemptAt: now, lastError: null, createdAt: now });
    this.kick();
  }

  /** Starts the worker: what earlier processes queued is delivered too. */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
  }

  /** Runs a delivery pass now, or right after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.clearTimer();
    this.rerun = false;
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.rerun) this.kick();
    });
  }

  /** Resolves when the delivery pass in progress, and any it triggered, are done. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Delivers what is due now; resolves when the worker is idle again. */
  async flush(): Promise<void> {
    this.kick();
    await this.idle();
  }

  private async pass(): Promise<void> {
    try {
      for (;;) {
        const now = Date.now();
        const due = await this.store.claim(now, now + this.options.lease, BATCH);
        await Promise.all(due.map((delivery) => this.attempt(delivery)));
        if (due.length < BATCH || this.stopped) break;
      }
      if (!this.stopped) await this.scheduleNext();
    } catch (err) {
      // The store failed: try again later rather than spin.
      this.log.error({ err }, 'onbind queue pass failed');
      this.schedule(this.options.initialBackoff);
    }
  }

  /** One delivery attempt; never throws, so the other attempts of the pass run to their end. */
  private async attempt(delivery: OnbindDelivery): Promise<void> {
    try {
      await this.deliver(delivery);
    } catch (err) {
      // A store failure while recording the outcome: the delivery stays leased and is tried again when the lease ends.
      this.log.error({ err, destination: delivery.destination }, 'onbind: the outcome of a delivery could not be recorded; it will be retried');
    }
  }

  private async deliver(delivery: OnbindDelivery): Promise<void> {
    let response: FederationResponse;
    try {
      response = await this.federation.request(delivery.destination, { method: 'POST', path: ONBIND_PATH, body: delivery.body });
    } catch (err) {
      await this.retryOrDrop(delivery, err instanceof Error ? err.message : String(err));
      return;
    }
    if (response.status >= 200 && response.status < 300) {
      // The invites are marked delivered before the delivery leaves the queue: a failure in between sends it again, never loses it.
      await this.onDelivered(delivery.body);
      await this.store.delete(delivery.id);
      this.log.info({ destination: delivery.destination, attempts: delivery.attempts + 1 }, 'onbind delivered');
      return;
    }
    const error = `HTTP ${response.status}`;
    if (isFinalRejection(response.status)) {
      await this.store.delete(delivery.id);
      this.log.warn({ destination: delivery.destination, error }, 'onbind refused by the homeserver; dropped');
      return;
    }
    await this.retryOrDrop(delivery, error);
  }

  /** After a failed attempt: the next one with exponential backoff, or none after onbind.maxAttempts. */
  private async retryOrDrop(delivery: OnbindDelivery, error: string): Promise<void> {
    const attempts = delivery.attempts + 1;
    if (this.options.maxAttempts > 0 && attempts >= this.options.maxAttempts) {
      await this.store.delete(delivery.id);
      this.log.warn({ destination: delivery.destination, attempts, error }, 'onbind undeliverable; dropped after the last attempt');
      return;
    }
    const delay = Math.min(this.options.initialBackoff * 2 ** (attempts - 1), this.options.maxBackoff);
    await this.store.reschedule(delivery.id, attempts, Date.now() + delay, error);
    this.log.info({ destination: delivery.destination, attempts, error, retryInMs: delay }, 'onbind delivery failed; will retry');
  }

  /** Sleeps until the earliest queued delivery is due (whoever queued it), at most maxBackoff. */
  private async scheduleNext(): Promise<void> {
    const [earliest] = await this.store.due(Number.MAX_SAFE_INTEGER, 1);
    const wait = earliest ? Math.max(0, earliest.nextAttemptAt - Date.now()) : this.options.maxBackoff;
    this.schedule(Math.min(wait, this.options.maxBackoff));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timer = setTimeout(() => this.kick(), Math.min(delay, MAX_TIMER_DELAY));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
