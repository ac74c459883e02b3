/**
 * Following the other instances that share the store. What this instance does that others keep
 * in memory (binds, unbinds, pepper rotations, provider data changes: the events of
 * ./events.ts) is appended to the store's change log; what the others appended is read back
 * in order and emitted on the event bus with `remote: true`. Reading starts at the log's end
 * when the app is built (what is older is already in the store the plugins read at start), is
 * woken by the store's hint (LISTEN/NOTIFY, change streams) and also runs every
 * `pollInterval`, so a lost hint costs at most that long.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { EventBus, UnisdEvents } from './events.js';
import type { ChangeLog, StoreChange } from './store/port.js';

/** Records read per query while catching up. */
const BATCH = 500;

export interface ChangeFollowerOptions {
  changes: ChangeLog;
  events: EventBus;
  /** This instance's name in the log (its own records are skipped). */
  origin: string;
  pollInterval: number;
  log: FastifyBaseLogger;
}

export class ChangeFollower {
  private cursor = 0;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private poll: NodeJS.Timeout | null = null;
  private stopWatching: (() => Promise<void>) | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly appending = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: ChangeFollowerOptions) {}

  /** The seq read up to. */
  get position(): number {
    return this.cursor;
  }

  /** Places the cursor at the log's end and starts appending this instance's changes. */
  async begin(): Promise<void> {
    this.cursor = await this.options.changes.latest();
    const { events } = this.options;
    this.unsubscribe.push(
      events.on('bind', ({ medium, address, mxid, remote }) => this.append(remote, { kind: 'bind', medium, address, mxid })),
      events.on('unbind', ({ medium, address, mxid, remote }) => this.append(remote, { kind: 'unbind', medium, address, mxid })),
      events.on('pepper-rotated', ({ pepper, previous, since, remote }) => this.append(remote, { kind: 'pepper-rotated', pepper, previous, ...(since === undefined ? {} : { since }) })),
      events.on('provider-data-changed', ({ provider, remote }) => this.append(remote, { kind: 'provider-data-changed', provider })),
    );
  }

  /** Starts reading what the others append. */
  async start(): Promise<void> {
    this.stopWatching = await this.options.changes.watch(() => this.wake());
    this.poll = setInterval(() => this.wake(), this.options.pollInterval);
    this.poll.unref();
    this.wake();
  }

  /** Reads what is new now, or right after the read under way. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.readAgain = false;
    this.reading = this.catchUp()
      .catch((err) => this.options.log.error({ err: (err as Error).message }, 'reading the change log failed; retrying at the next poll'))
      .finally(() => {
        this.reading = null;
        if (this.readAgain) this.wake();
      });
  }

  /** Resolves once everything appended before the call has been read (tests, shutdown). */
  async caughtUp(): Promise<void> {
    this.wake();
    while (this.reading) await this.reading;
  }

  /**
   * This instance's own changes with seq > `after`, oldest first, including those whose append
   * was under way when called.
   */
  async ownChangesAfter(after: number): Promise<StoreChange[]> {
    await Promise.allSettled([...this.appending]);
    const own: StoreChange[] = [];
    for (let cursor = after; ;) {
      const records = await this.options.changes.readAfter(cursor, BATCH);
      for (const record of records) if (record.origin === this.options.origin) own.push(record.change);
      if (records.length < BATCH) return own;
      cursor = records[records.length - 1].seq;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.stopWatching?.().catch(() => {});
    await this.reading;
    await Promise.allSettled([...this.appending]);
  }

  private append(remote: boolean | undefined, change: StoreChange): Promise<void> | undefined {
    if (remote || this.stopped) return undefined;
    const appended: Promise<void> = this.options.changes.append(this.options.origin, change, Date.now())
      .then(() => {}).finally(() => this.appending.delete(appended));
    this.appending.add(appended);
    return appended; // a failure is logged by the event bus
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const records = await this.options.changes.readAfter(this.cursor, BATCH);
      for (const record of records) {
        this.cursor = record.seq;
        if (record.origin !== this.options.origin && !this.stopped) this.emit(record.change);
      }
      if (records.length < BATCH) return;
    }
  }

  private emit(change: StoreChange): void {
    const { events } = this.options;
    switch (change.kind) {
      case 'bind':
      case 'unbind': {
        const payload: UnisdEvents['bind'] = { medium: change.medium, address: change.address, mxid: change.mxid, remote: true };
        return events.emit(change.kind, payload);
      }
      case 'pepper-rotated': return events.emit('pepper-rotated', { pepper: change.pepper, previous: change.previous, remote: true, ...(change.since === undefined ? {} : { since: change.since }) });
      case 'provider-data-changed': return events.emit('provider-data-changed', { provider: change.provider, remote: true });
    }
  }
}
