/** The federation client: resolves a server name, then sends one request through the guarded HTTP client. */
import type { Federation, FederationRequest, FederationResponse } from './types.js';
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

export class FederationClient implements Federation {
  readonly resolver: ServerResolver;
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
  }

  async request(serverName: string, request: FederationRequest): Promise<FederationResponse> {
    const destination = await this.resolver.resolve(serverName);
    const { status, json } = await this.http.send(destination, request);
    return { status, json };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
