/** The federation client: resolves a server name, then sends one request through the guarded HTTP client. */
import { FederationError, type Federation, type FederationRequest, type FederationResponse } from './types.js';
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
  /** DNS answers; default the system's. */
  dns?: DnsResolver;
  /** Port of /.well-known requests: 443, except in tests. */
  wellKnownPort?: number;
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

  constructor(options: FederationOptions) {
    const dns = withTimeout(options.dns ?? systemDns, options.timeout);
    this.http = new OutboundHttp({
      timeout: options.timeout,
      maxResponseBytes: options.maxResponseBytes,
      verifyTls: options.verifyTls,
      guard: new AddressGuard(options.allowedAddresses),
      dns,
    });
    this.resolver = new ServerResolver(this.http, dns, { cacheTtl: options.cacheTtl, wellKnownPort: options.wellKnownPort });
    this.deadline = WHOLE_REQUEST_TIMEOUTS * options.timeout;
  }

  async request(serverName: string, request: FederationRequest): Promise<FederationResponse> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FederationError(
        `${serverName} did not answer within ${this.deadline} ms for the whole request (federation.timeout × ${WHOLE_REQUEST_TIMEOUTS})`, 'unreachable',
      )), this.deadline);
    });
    try {
      // The steps still running after the deadline end on their own timeouts.
      return await Promise.race([this.send(serverName, request), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async send(serverName: string, request: FederationRequest): Promise<FederationResponse> {
    const destination = await this.resolver.resolve(serverName);
    const { status, json } = await this.http.send(destination, request);
    return { status, json };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
