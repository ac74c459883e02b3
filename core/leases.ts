/**
 * Single-holder work across the instances sharing a store: `run(name, work)` runs `work` only
 * while this instance holds lease `name` (core/store/ports/leases.ts), renewing it while the work
 * lasts. When a holder dies its lease expires after `ttl` and the next instance to ask takes it.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { LeaseStore } from './store/port.js';

export class Leases {
  /** Leases held across steps (hold), with their renewal timers. */
  private readonly renewals = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly store: LeaseStore,
    /** This instance's name in the store (unique per process). */
    readonly holder: string,
    /** How long a lease lasts unrenewed: how long work stops when its holder dies. */
    readonly ttl: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Takes (or renews) lease `name` for `ttl`; true when this instance holds it. */
  acquire(name: string, ttl = this.ttl): Promise<boolean> {
    return this.store.acquire(name, this.holder, ttl, Date.now());
  }

  release(name: string): Promise<void> {
    return this.store.release(name, this.holder);
  }

  /**
   * Runs `work` holding lease `name`, renewed every third of `ttl` meanwhile and released after;
   * resolves to false at once when another instance holds it. A renewal that fails is logged and
   * the work goes on: what it commits must be safe anyway (a compare-and-swap, an atomic claim).
   */
  async run(name: string, work: () => Promise<void>): Promise<boolean> {
    if (!await this.hold(name)) return false;
    try {
      await work();
    } finally {
      await this.letGo(name);
    }
    return true;
  }

  /** Takes lease `name` and keeps renewing it until letGo(name) (work spanning several steps); false when another holds it. */
  async hold(name: string): Promise<boolean> {
    if (this.renewals.has(name)) return true;
    if (!await this.acquire(name)) return false;
    const renew = setInterval(() => {
      this.acquire(name).then((held) => {
        if (!held) this.log.warn({ lease: name }, 'lease lost to another instance while its work ran');
      }, (err) => this.log.error({ lease: name, err: (err as Error).message }, 'renewing a lease failed'));
    }, Math.max(this.ttl / 3, 100));
    renew.unref();
    this.renewals.set(name, renew);
    return true;
  }

  /** Stops renewing lease `name` and releases it. */
  async letGo(name: string): Promise<void> {
    clearInterval(this.renewals.get(name));
    this.renewals.delete(name);
    await this.release(name).catch((err) => this.log.error({ lease: name, err: (err as Error).message }, 'releasing a lease failed'));
  }
}
