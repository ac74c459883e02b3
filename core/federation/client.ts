/** The federation client: resolves a server name, then sends one request through the guarded HTTP client. */
import { FederationError, type Federation, type FederationRequest, type FederationResponse, type RequestOptions } from './types.js';
import type { Metrics } from '../metrics.js';
import { RateLimiter } from '../rate-limit.js';
import type { LimitStore } from '../limit-stores/store.js';
import { OutboundGate } from './outbound-gate.js';
import { AddressGuard } from './address-guard.js';
import { systemDns, withTimeout, type DnsResolver } from './dns.js';
import { OutboundHttp } from './http.js';
import { ServerResolver } from './resolver.js';

export interface FederationOptions {
  /** ms, for each DNS lookup, connection (with TLS) and request (headers and body). */
  timeout: number;
  maxResponseBytes: number;
  verifyTls: boolean;
  /** IPs or CIDR ranges exempt from the SSRF guard. */
  allowedAddresses: readonly string[];
  /** Cache lifetime of resolutions without cache headers (ms). */
  cacheTtl: number;
  /** Requests each caller may make unisd send per window (see RequestOptions.onBehalfOf); 0: unlimited. */
  rateLimit: { perClient: number; window: number };
  /** Callers' requests running at once (0: no cap), and waiting beyond them before 429. */
  maxConcurrent: number;
  maxQueued: number;
  /** Names the resolution cache keeps; tests use a small number. */
  cacheSize?: number;
  /** DNS answers; default the system's. */
  dns?: DnsResolver;
  /** Port of /.well-known requests: 443, except in tests. */
  wellKnownPort?: number;
  metrics?: Metrics;
  /** Where federation.rateLimit is counted (rateLimit.store). */
  limitStore?: LimitStore;
}

/**
 * Each step (DNS lookup, connection, well-known hop, request) is bounded by the timeout; one
 * whole request, resolution included, by this many timeouts, so a chain of slow steps cannot
 * hold a caller for minutes.
 */
export const WHOLE_REQUEST_TIMEOUTS = 3;

export class FederationClient implements Federation {
  readonly resolver: ServerResolver;
  /** ms one request() may take at most, resolution included. */
  readonly deadline: number;
  private readonly http: OutboundHttp;
  private readonly perCaller: RateLimiter;
  private readonly gate: OutboundGate;

  constructor(options: FederationOptions) {
    const dns = withTimeout(options.dns ?? systemDns, options.timeout);
    this.http = new OutboundHttp({
      timeout: options.timeout,
      maxResponseBytes: options.maxResponseBytes,
      verifyTls: options.verifyTls,
      guard: new AddressGuard(options.allowedAddresses),
      dns,
    });
    this.resolver = new ServerResolver(this.http, dns, { cacheTtl: options.cacheTtl, wellKnownPort: options.wellKnownPort, cacheSize: options.cacheSize });
    this.deadline = WHOLE_REQUEST_TIMEOUTS * options.timeout;
    this.perCaller = new RateLimiter(options.rateLimit.perClient, options.rateLimit.window, { name: 'federation.rateLimit.perClient', metrics: options.metrics, store: options.limitStore });
    this.gate = new OutboundGate(options.maxConcurrent, options.maxQueued, options.metrics);
  }

  async request(serverName: string, request: FederationRequest, options: RequestOptions = {}): Promise<FederationResponse> {
    const { onBehalfOf } = options;
    if (onBehalfOf !== undefined) await this.perCaller.consume(onBehalfOf);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new FederationError(
      `${serverName} did not answer within ${this.deadline} ms for the whole request (federation.timeout × ${WHOLE_REQUEST_TIMEOUTS})`, 'unreachable',
    )), this.deadline);
    const expired = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener('abort', () => reject(deadline.signal.reason), { once: true });
    });
    const work = () => this.send(serverName, request);
    try {
      // The steps still running after the deadline end on their own timeouts; a caller still
      // waiting for a slot leaves the queue.
      return await Promise.race([onBehalfOf === undefined ? work() : this.gate.run(work, deadline.signal), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Callers' requests running and waiting now. */
  get load(): { running: number; queued: number } {
    return this.gate.load;
  }

  private async send(serverName: string, request: FederationRequest): Promise<FederationResponse> {
    const destination = await this.resolver.resolve(serverName);
    const { status, json } = await this.http.send(destination, request);
    this.resolver.vouch(serverName);
    return { status, json };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
