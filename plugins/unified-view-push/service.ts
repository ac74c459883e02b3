/**
 * When a member pushes: at start, whenever a poll of a hub's hash_details shows a pepper not
 * pushed with the current data (a rotation), after local data changed (binds, unbinds, a
 * provider's reload; debounced), and on a schedule (providers change without telling). Each hub
 * has one push at a time; a trigger during it runs one more after it. A failed push is retried
 * after a wait that doubles with each failure, up to retry.maxDelay.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import type { SigningKey } from '../../core/crypto/signing.js';
import type { IdentityProvider } from '../../core/providers/provider.js';
import type { WorkerPool } from '../../core/workers.js';
import { setLongInterval, setLongTimeout, type LongTimer } from '../../core/timers.js';
import { HubClient } from './hub-client.js';
import { HubPusher, type PushReport } from './pusher.js';
import type { PushMetrics } from './metrics.js';

export interface UnifiedViewPushDeps {
  config: Config['unifiedViewPush'];
  /** This server's name: the key of its mappings and the X-Matrix origin. */
  origin: string;
  signingKey: SigningKey;
  pool: WorkerPool;
  sources: () => IdentityProvider[];
  log: FastifyBaseLogger;
  metrics: PushMetrics;
}

export type PushOutcome = PushReport & { error?: string };

interface HubState {
  /** The hub's server name: its label in metrics. */
  server: string;
  pusher: HubPusher;
  client: HubClient;
  log: FastifyBaseLogger;
  running: Promise<void> | null;
  again: boolean;
  failures: number;
  retryTimer: LongTimer | null;
  last: PushOutcome | null;
}

export class UnifiedViewPush {
  /** The local data's version: pushes record under which version each pepper was sent. */
  private version = 0;
  /** The version pushes bring hubs to: `version` once the debounce of its changes is over. */
  private released = 0;
  private readonly hubs: HubState[];
  private readonly closing = new AbortController();
  private readonly timers: LongTimer[] = [];
  private debounceTimer: LongTimer | null = null;

  constructor(private readonly deps: UnifiedViewPushDeps) {
    const { config, origin, signingKey, pool, sources, log } = deps;
    this.hubs = config.hubs.map((hub) => {
      const client = new HubClient(hub, origin, signingKey, config.timeout);
      const hubLog = log.child({ hub: hub.url });
      return {
        server: hub.server, client, log: hubLog, running: null, again: false, failures: 0, retryTimer: null, last: null,
        pusher: new HubPusher({ client, pool, sources, chunkHashes: config.chunkHashes, retry: config.retry, log: hubLog }),
      };
    });
  }

  /** Pushes to every hub now, then keeps them current (the server calls it once listening). */
  start(): void {
    const { pollInterval, pushInterval } = this.deps.config;
    // A poll leaves a failing hub to its backoff (a refused push would otherwise rehash everything each poll).
    this.timers.push(setLongInterval(() => { for (const hub of this.hubs) if (!hub.retryTimer) this.trigger(hub); }, Math.max(pollInterval, 1000)));
    this.timers.push(setLongInterval(() => this.dataChanged(0), Math.max(pushInterval, 1000)));
    this.triggerAll();
  }

  /**
   * Local data changed: every pepper of every hub is pushed again, `debounce` after the first
   * change of a burst (later ones join it, and a steady stream of binds cannot put it off).
   */
  dataChanged(debounce = this.deps.config.debounce): void {
    this.version++;
    if (this.debounceTimer) return;
    this.debounceTimer = setLongTimeout(() => {
      this.debounceTimer = null;
      this.released = this.version;
      this.triggerAll();
    }, debounce);
  }

  /** Pushes now to every hub (or the one whose URL is `hubUrl`) what it lacks, and reports each. */
  async pushNow(hubUrl?: string): Promise<PushOutcome[]> {
    const chosen = this.hubs.filter((hub) => hubUrl === undefined || hub.client.url === hubUrl);
    if (chosen.length === 0) throw new Error(`unifiedViewPush.hubs has no hub with url ${hubUrl}`);
    this.released = this.version;
    const outcomes: PushOutcome[] = [];
    for (const hub of chosen) {
      await hub.running;
      outcomes.push(await this.run(hub));
    }
    return outcomes;
  }

  /** The last outcome per hub (null before its first push). */
  status(): Array<{ hub: string; last: PushOutcome | null; failures: number }> {
    return this.hubs.map((hub) => ({ hub: hub.client.url, last: hub.last, failures: hub.failures }));
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.debounceTimer?.clear();
    for (const timer of this.timers) timer.clear();
    for (const hub of this.hubs) hub.retryTimer?.clear();
    await Promise.all(this.hubs.map((hub) => hub.running));
    await Promise.all(this.hubs.map((hub) => hub.client.close()));
  }

  private triggerAll(): void {
    for (const hub of this.hubs) this.trigger(hub);
  }

  private trigger(hub: HubState): void {
    if (this.closing.signal.aborted) return;
    if (hub.running) {
      hub.again = true;
      return;
    }
    hub.retryTimer?.clear();
    hub.retryTimer = null;
    hub.running = this.run(hub).then((outcome) => {
      hub.running = null;
      if (outcome.error) this.retryLater(hub);
      else if (hub.again) {
        hub.again = false;
        this.trigger(hub);
      }
    });
  }

  private retryLater(hub: HubState): void {
    if (this.closing.signal.aborted) return;
    const { initialDelay, maxDelay } = this.deps.config.retry;
    const wait = Math.min(initialDelay * 2 ** Math.min(hub.failures - 1, 30), maxDelay);
    hub.again = false;
    hub.log.info({ waitMs: wait, failures: hub.failures }, 'unified view push failed; trying again later');
    hub.retryTimer = setLongTimeout(() => {
      hub.retryTimer = null;
      this.trigger(hub);
    }, wait);
  }

  private async run(hub: HubState): Promise<PushOutcome> {
    const version = this.released;
    const started = Date.now();
    let outcome: PushOutcome;
    try {
      outcome = await hub.pusher.push(version, this.closing.signal);
      hub.failures = 0;
      this.deps.metrics.succeeded(hub.server, outcome);
      if (outcome.peppers > 0) {
        hub.log.info({ peppers: outcome.peppers, threepids: outcome.threepids, hashes: outcome.hashes, chunks: outcome.chunks, ms: outcome.ms }, 'unified view pushed');
      }
    } catch (err) {
      hub.failures++;
      const error = (err as Error).message;
      outcome = { hub: hub.client.url, peppers: 0, threepids: 0, hashes: 0, chunks: 0, ms: Date.now() - started, error };
      if (!this.closing.signal.aborted) {
        hub.log.error({ err: error }, 'unified view push failed');
        this.deps.metrics.failed(hub.server);
      }
    }
    hub.last = outcome;
    return outcome;
  }
}
