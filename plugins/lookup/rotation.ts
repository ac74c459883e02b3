/**
 * The lookup pepper and its hash tables: which peppers are accepted, when the pepper rotates,
 * and keeping every live table current on bind and unbind.
 *
 * A rotation never blocks or fails a lookup: the new pepper's table is built (in the pool)
 * while lookups go on with the current one; only when it is complete does the pepper state
 * switch, with a compare-and-swap in the PepperStore, so with a shared store one instance
 * wins and the others adopt its pepper (building their own in_memory table for it, or using
 * the shared sql one). One rotation at a time: triggers during a rotation join it. The replaced
 * pepper stays accepted for `altPeppers.lifetime` (at most `altPeppers.count` of them); all
 * alternates retire together, `lifetime` after the latest rotation.
 *
 * Across instances, a rotation runs under the store lease `pepper-rotation`: the instance that
 * takes it builds and commits; the others wait for its pepper (announced through the change
 * log) and take the lease over to finish the rotation themselves if its holder dies. Binds and
 * unbinds other instances made (`remote`) are already in shared sql tables; only in_memory
 * tables, and tables being built here, take them in. The exception, a shared sql table that its
 * builder finished before another instance knew its pepper, is closed by adoptedRemote().
 */
import { randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import type { EventBus } from '../../core/events.js';
import type { HashEntry, HashTableStore, PepperState, PepperStore } from '../../core/store/ports/hashes.js';
import type { Mapping } from '../../core/providers/provider.js';
import { lookupHash } from '../../core/crypto/lookup-hash.js';
import { setLongTimeout, type LongTimer } from '../../core/timers.js';
import type { CompactHashIndex } from './compact-index.js';
import type { MemoryHashTables } from './memory-tables.js';
import { hashInputs } from './table-builder.js';
import type { Leases } from '../../core/leases.js';
import type { StoreChange } from '../../core/store/port.js';

const PEPPER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A pepper of `length` letters and digits, each drawn uniformly from a CSPRNG. */
export function newPepper(length: number): string {
  let pepper = '';
  for (let i = 0; i < length; i++) pepper += PEPPER_ALPHABET[randomInt(PEPPER_ALPHABET.length)];
  return pepper;
}

/** The entries a mapping adds to the table of `pepper` (one per hashed form of its address). */
export function entriesOf(mapping: Mapping, pepper: string): HashEntry[] {
  return hashInputs(mapping).map((input) => ({ hash: lookupHash(...splitInput(input), pepper), mxid: mapping.mxid }));
}

const splitInput = (input: string): [string, string] => {
  const space = input.lastIndexOf(' ');
  return [input.slice(0, space), input.slice(space + 1)];
};

type Change = ({ kind: 'bind'; mapping: Mapping } | { kind: 'unbind'; mapping: Mapping; replacement: Mapping | null }) & { remote: boolean };

/** The lease a rotation runs under, among the instances sharing the store. */
export const ROTATION_LEASE = 'pepper-rotation';

/**
 * Who runs rotations when several processes share the port (server.workers): the cluster's
 * primary, which has every worker build the new table (prepareFor) before any switches.
 */
export interface RotationCoordinator {
  /** Asks for a rotation; the switch arrives later through adopt(). */
  request(): void;
}

export interface RotationDeps {
  hashing: Config['hashing'];
  peppers: PepperStore;
  tables: HashTableStore;
  /** The in_memory tables (null with sql storage): a build is installed there directly. */
  memory: MemoryHashTables | null;
  /** Builds the table of a pepper from every hash source (`expected`: room to make). */
  build: (pepper: string, expected: number, firstBuild: boolean) => Promise<CompactHashIndex>;
  /** After an unbind: the mapping a hash-source provider still has for this 3PID, if any. */
  providerMapping: (mapping: Mapping) => Promise<Mapping | null>;
  /** Told how long each rotation this process ran took (metrics). */
  rotated?: (ms: number) => void;
  events: EventBus;
  log: FastifyBaseLogger;
  /** Set in a cluster worker: rotations are the primary's, this process has no rotation timer. */
  coordinator?: RotationCoordinator;
  /** The instances' leases (core/leases.ts): one rotation at a time across them. */
  leases?: Pick<Leases, 'run' | 'hold' | 'letGo' | 'ttl'>;
  /** The instances' change log (core/changes.ts): where a build starts, and this instance's own changes since. */
  changeLog?: { position(): Promise<number>; ownChangesAfter(seq: number): Promise<StoreChange[]> };
}

export interface RotationStatus {
  pepper: string;
  altPeppers: string[];
  rotatedAt: number;
  requestCount: number;
  rotating: boolean;
  lastRotationMs: number | null;
  tableSizes: Record<string, number>;
}

export class PepperRotation {
  private state!: PepperState;
  private rotation: Promise<void> | null = null;
  /** Peppers whose table is being built, with the binds and unbinds to replay once it is. */
  private readonly building = new Map<string, Change[]>();
  /** Peppers whose table is ready ahead of a coordinated switch: accepted, not yet advertised. */
  private readonly prepared = new Set<string>();
  /** The change-log seq each table built here was built after (announced with its pepper). */
  private readonly builtAfter = new Map<string, number>();
  private readonly adoptionWaiters: Array<() => void> = [];
  private lastSync = 0;
  private syncing: Promise<void> | null = null;
  /** Binds and unbinds seen while the first tables are built, replayed once they are. */
  private startupChanges: Change[] | null = [];
  private markReady!: () => void;
  private markFailed!: (err: unknown) => void;
  /**
   * Settles when the first tables are built. Not part of the app's start (Fastify gives a
   * plugin 10 s; a table of millions may need more on a busy machine): the server listens at
   * once and lookups wait for this.
   */
  readonly ready = new Promise<void>((resolve, reject) => {
    this.markReady = resolve;
    this.markFailed = reject;
  });
  private timer: LongTimer | null = null;
  private retireTimer: LongTimer | null = null;
  private lastRotationMs: number | null = null;
  /** The pepper this instance last made current (its commit won): its adoption is not remote. */
  private committed: string | null = null;
  private closed = false;
  private started = false;

  constructor(private readonly deps: RotationDeps) {
    this.ready.catch(() => {}); // awaited by every lookup; a failure is logged by start()
  }

  /** Loads (or creates) the pepper state and builds the tables it needs; then rotations are scheduled. */
  async start(): Promise<void> {
    this.started = true;
    try {
      let state = await this.deps.peppers.getPepperState();
      if (!state) {
        const pepper = newPepper(this.deps.hashing.pepperLength);
        await this.prepare(pepper, true);
        const fresh: PepperState = { pepper, altPeppers: [], rotatedAt: Date.now(), requestCount: 0 };
        if (await this.deps.peppers.swapPepperState(null, fresh)) state = fresh;
        else state = (await this.deps.peppers.getPepperState())!;
      }
      await this.adopt(state, true);
      const changes = this.startupChanges!;
      this.startupChanges = null;
      for (const change of changes) for (const pepper of this.livePeppers()) await this.applyTo(pepper, change);
      this.markReady();
    } catch (err) {
      this.markFailed(err);
      throw err;
    }
  }

  /** Stops the timers and waits for a build under way (the worker pool closes after this). */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.clear();
    this.retireTimer?.clear();
    if (this.started) await this.ready.catch(() => {});
    await this.settled();
  }

  get pepper(): string {
    return this.state.pepper;
  }

  /** When the current pepper became current. */
  get rotatedAt(): number {
    return this.state.rotatedAt;
  }

  /** The current pepper, or a replaced one still within its lifetime and count. */
  accepts(pepper: string): boolean {
    return pepper === this.state.pepper || this.liveAlternates().includes(pepper) || this.prepared.has(pepper);
  }

  /**
   * accepts(), after re-reading the shared state when `pepper` is unknown here: another process
   * may have rotated and handed it out already. Reads are at most one per 100 ms, shared.
   */
  async acceptsAfterSync(pepper: string): Promise<boolean> {
    if (this.accepts(pepper)) return true;
    if (Date.now() - this.lastSync >= 100) {
      this.lastSync = Date.now();
      this.syncing ??= this.sync().finally(() => { this.syncing = null; });
    }
    await this.syncing;
    return this.accepts(pepper);
  }

  /** The replaced peppers still accepted, newest first (MSC4004's alt_lookup_peppers). */
  liveAlternates(now = Date.now()): string[] {
    const { lifetime, count } = this.deps.hashing.altPeppers;
    return now < this.state.rotatedAt + lifetime ? this.state.altPeppers.slice(0, count) : [];
  }

  /** Counts one lookup for rotationPolicy per_requests; starts a rotation when the count is reached. */
  async countLookup(pepper: string): Promise<void> {
    const { rotationPolicy, requests } = this.deps.hashing;
    if (rotationPolicy !== 'per_requests' || pepper !== this.state.pepper || this.rotation) return;
    const count = await this.deps.peppers.incrementPepperRequests(pepper);
    if (count >= requests) this.rotateInBackground();
  }

  /** Rotates now (or joins the rotation under way); resolves when the new pepper is current. */
  async rotate(): Promise<void> {
    await this.ready;
    if (this.deps.coordinator) {
      const adopted = new Promise<void>((resolve) => this.adoptionWaiters.push(resolve));
      this.deps.coordinator.request();
      return adopted;
    }
    this.rotation ??= this.rotateAway(this.state.pepper).finally(() => { this.rotation = null; });
    await this.rotation;
  }

  /**
   * Rotates away from `from` once across the instances: under the rotation lease, unless the
   * pepper moved on meanwhile; while another instance holds the lease, waits for its pepper,
   * and takes the lease when its holder died (the lease expired) to rotate itself.
   */
  private async rotateAway(from: string): Promise<void> {
    const { leases } = this.deps;
    if (!leases) return this.runRotation();
    for (;;) {
      if (this.closed) return;
      const ran = await leases.run(ROTATION_LEASE, async () => {
        const state = await this.deps.peppers.getPepperState();
        if (state && state.pepper !== from) await this.adopt(state, false);
        else await this.runRotation();
      });
      if (ran) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, leases.ttl / 3)));
      const state = await this.deps.peppers.getPepperState();
      if (state && state.pepper !== from) {
        if (state.pepper !== this.state.pepper) await this.adopt(state, false);
        return;
      }
    }
  }

  /**
   * Coordinated rotation, step 0 (one worker): takes the rotation lease for the cluster among the
   * instances sharing the store. Resolves to the state to switch to when another instance
   * rotated meanwhile (no rotation then); throws when another instance holds the lease.
   */
  async beginCoordinated(): Promise<PepperState | undefined> {
    const state = await this.deps.peppers.getPepperState();
    if (state && state.pepper !== this.state.pepper) return state;
    if (this.deps.leases && !await this.deps.leases.hold(ROTATION_LEASE)) throw new Error('another instance is rotating the pepper');
    return undefined;
  }

  /** Coordinated rotation, last step (the worker that began it): the lease goes. */
  async endCoordinated(): Promise<void> {
    await this.deps.leases?.letGo(ROTATION_LEASE);
  }

  /** Coordinated rotation, step 1 (every worker): build the table of `pepper`, accept it, do not advertise it yet. */
  async prepareFor(pepper: string): Promise<void> {
    await this.prepare(pepper, false);
    this.prepared.add(pepper);
  }

  /** Coordinated rotation, step 2 (one worker): make `pepper` current in the store; the state that won. */
  async commit(pepper: string): Promise<PepperState> {
    const previous = this.state;
    const next: PepperState = {
      pepper,
      altPeppers: [previous.pepper, ...this.liveAlternates()].slice(0, this.deps.hashing.altPeppers.count),
      rotatedAt: Date.now(),
      requestCount: 0,
    };
    if (await this.deps.peppers.swapPepperState(previous.pepper, next)) {
      this.committed = pepper;
      return next;
    }
    return (await this.deps.peppers.getPepperState())!;
  }

  /** A coordinated rotation given up (a worker failed to prepare): its table goes. */
  async abandon(pepper: string): Promise<void> {
    if (!this.prepared.delete(pepper)) return;
    await this.deps.tables.retain([this.state.pepper, ...this.liveAlternates(), ...this.building.keys(), ...this.prepared]);
  }

  /** Coordinated rotation, step 3 (every worker): switch to `state` (its table prepared, or built now). */
  async switchTo(state: PepperState): Promise<void> {
    await this.settled();
    if (state.pepper === this.state.pepper) return;
    this.rotation = this.adopt(state, false).finally(() => { this.rotation = null; });
    await this.rotation;
  }

  /** Resolves when no rotation (or adoption) is under way. */
  async settled(): Promise<void> {
    while (this.rotation) await this.rotation.catch(() => {});
  }

  /** Re-reads the shared pepper state and adopts a pepper another instance rotated to. */
  async sync(): Promise<void> {
    await this.ready;
    await this.settled();
    const state = await this.deps.peppers.getPepperState();
    if (state && state.pepper !== this.state.pepper) {
      this.rotation ??= this.adopt(state, false).finally(() => { this.rotation = null; });
      await this.rotation;
    }
  }

  async status(): Promise<RotationStatus> {
    const state = (await this.deps.peppers.getPepperState()) ?? this.state;
    const tableSizes: Record<string, number> = {};
    for (const pepper of [state.pepper, ...this.liveAlternates()]) tableSizes[pepper] = await this.deps.tables.size(pepper);
    return { ...state, altPeppers: this.liveAlternates(), rotating: this.rotation !== null, lastRotationMs: this.lastRotationMs, tableSizes };
  }

  /**
   * Another instance made `pepper` current (a remote pepper-rotated), its shared sql table built
   * from the store as of change-log seq `since` plus the changes that instance read while
   * building. A bind or unbind made here after `since` and before this instance knew `pepper`
   * went only to the tables known here, and the builder may have read it after it finished,
   * when it no longer writes others' changes: so this instance writes its own changes after
   * `since` to that table again, in log order, once it has adopted `pepper` (from then on its
   * changes go there directly). Both races end exact: a bind (or unbind) here racing the
   * builder's switch is either in the build's read of the store (logged by `since`), or logged
   * after `since` and written here now; adds and removes are idempotent, so one the builder
   * took in, or that reached the table directly, is only written again with the same result.
   * The log is read after this instance's appends under way settled, so none is missed. A
   * 3PID changed on two instances within that window is replayed per instance, not
   * interleaved; in_memory tables need none of this (each instance builds and follows its own).
   */
  async adoptedRemote(pepper: string, since: number | undefined): Promise<void> {
    await this.sync();
    if (this.deps.memory || since === undefined || !this.deps.changeLog || !this.livePeppers().includes(pepper)) return;
    for (const change of await this.deps.changeLog.ownChangesAfter(since)) {
      if (change.kind !== 'bind' && change.kind !== 'unbind') continue;
      const mapping: Mapping = { medium: change.medium, address: change.address, mxid: change.mxid };
      await this.applyTo(pepper, change.kind === 'bind'
        ? { kind: 'bind', mapping, remote: false }
        : { kind: 'unbind', mapping, replacement: await this.deps.providerMapping(mapping), remote: false });
    }
  }

  /** A bind: its 3PID now maps to its Matrix ID in every live table (binds win over providers). */
  async bound(mapping: Mapping, remote = false): Promise<void> {
    await this.apply({ kind: 'bind', mapping, remote });
  }

  /** An unbind: its entries leave every live table; a provider's mapping of the same 3PID shows again. */
  async unbound(mapping: Mapping, remote = false): Promise<void> {
    await this.apply({ kind: 'unbind', mapping, replacement: await this.deps.providerMapping(mapping), remote });
  }

  private async apply(change: Change): Promise<void> {
    // Another instance wrote its change to the shared sql tables it knew; a table built here it did not.
    const written = change.remote && !this.deps.memory;
    if (!written) this.startupChanges?.push(change);
    for (const pending of this.building.values()) pending.push(change);
    if (!this.state || written) return;
    for (const pepper of this.livePeppers()) await this.applyTo(pepper, change);
  }

  private async applyTo(pepper: string, change: Change): Promise<void> {
    if (change.kind === 'bind') return this.deps.tables.add(pepper, entriesOf(change.mapping, pepper));
    await this.deps.tables.remove(pepper, entriesOf(change.mapping, pepper));
    if (change.replacement) await this.deps.tables.add(pepper, entriesOf(change.replacement, pepper));
  }

  private livePeppers(): string[] {
    return [this.state.pepper, ...this.liveAlternates()].filter((pepper) => !this.building.has(pepper));
  }

  private rotateInBackground(): void {
    if (this.deps.coordinator) return this.deps.coordinator.request();
    this.rotate().catch((err) => this.deps.log.error({ err: (err as Error).message }, 'pepper rotation failed; the current pepper stays'));
  }

  private async runRotation(): Promise<void> {
    const started = Date.now();
    const pepper = newPepper(this.deps.hashing.pepperLength);
    this.deps.log.info('pepper rotation started');
    await this.prepare(pepper, false);
    const state = await this.commit(pepper);
    // Another instance may have rotated first: its pepper wins, ours is dropped.
    if (state.pepper !== pepper) this.deps.log.info('another instance rotated the pepper first; adopting its pepper');
    await this.adopt(state, false);
    this.lastRotationMs = Date.now() - started;
    this.deps.rotated?.(this.lastRotationMs);
    this.deps.log.info({ ms: this.lastRotationMs, entries: await this.deps.tables.size(this.state.pepper) }, 'pepper rotated');
  }

  /** Builds the table of `pepper` and installs it, replaying the binds and unbinds that happened meanwhile. */
  private async prepare(pepper: string, firstBuild: boolean): Promise<void> {
    // A shared sql table is complete once it exists (written by whoever rotated, or before a restart).
    if (!this.deps.memory && await this.deps.tables.size(pepper) > 0) return;
    const changes: Change[] = [];
    this.building.set(pepper, changes);
    try {
      // Read before the sources: every change logged up to here is in what the build reads.
      const since = await this.deps.changeLog?.position();
      if (since !== undefined) this.builtAfter.set(pepper, since);
      const expected = this.state ? await this.deps.tables.size(this.state.pepper) : 0;
      const index = await this.deps.build(pepper, expected, firstBuild);
      if (this.deps.memory) this.deps.memory.install(pepper, index);
      else await this.deps.tables.replace(pepper, index.entries());
      for (const change of changes) await this.applyTo(pepper, change);
    } finally {
      this.building.delete(pepper);
    }
  }

  /** Makes `state` this instance's own: its table ready, old tables dropped, timers set. */
  private async adopt(state: PepperState, firstBuild: boolean): Promise<void> {
    const have = this.deps.memory ? this.deps.memory.index(state.pepper) !== undefined : await this.deps.tables.size(state.pepper) > 0;
    if (!have) await this.prepare(state.pepper, firstBuild);
    const previous = this.state?.pepper ?? null;
    this.state = state;
    this.prepared.delete(state.pepper);
    await this.deps.tables.retain([state.pepper, ...this.liveAlternates(), ...this.building.keys(), ...this.prepared]);
    for (const pepper of this.builtAfter.keys()) if (pepper !== state.pepper && !this.building.has(pepper) && !this.prepared.has(pepper)) this.builtAfter.delete(pepper);
    if (previous !== null && previous !== state.pepper) {
      const since = this.builtAfter.get(state.pepper);
      this.deps.events.emit('pepper-rotated', { pepper: state.pepper, previous, since, remote: state.pepper !== this.committed });
      for (const resolve of this.adoptionWaiters.splice(0)) resolve();
    }
    this.schedule();
  }

  /** Sets the per_seconds timer (at the pepper's due time, or `retryIn` after a failure) and the retirement of alternates. */
  private schedule(retryIn?: number): void {
    if (this.closed) return;
    const { rotationPolicy, delay, altPeppers } = this.deps.hashing;
    const now = Date.now();
    this.timer?.clear();
    if (rotationPolicy === 'per_seconds' && !this.deps.coordinator) {
      this.timer = setLongTimeout(() => {
        this.timer = null;
        // Another instance may have rotated meanwhile: adopt its pepper, or rotate.
        void this.deps.peppers.getPepperState().then((state) => {
          if (state && state.pepper !== this.state.pepper) return this.sync();
          return this.rotate();
        }).catch((err) => {
          this.deps.log.error({ err: (err as Error).message }, 'pepper rotation failed; the current pepper stays');
          if (!this.timer) this.schedule(delay);
        });
      }, retryIn ?? Math.max(0, this.state.rotatedAt + delay - now));
    }
    this.retireTimer?.clear();
    if (this.state.altPeppers.length > 0 && this.state.rotatedAt + altPeppers.lifetime > now) {
      this.retireTimer = setLongTimeout(() => {
        this.retireTimer = null;
        this.deps.tables.retain([this.state.pepper, ...this.building.keys(), ...this.prepared])
          .catch((err) => this.deps.log.error({ err: (err as Error).message }, 'dropping retired hash tables failed'));
      }, this.state.rotatedAt + altPeppers.lifetime - now);
    }
  }
}
