/**
 * Server name resolution (server-server spec, Resolving server names): IP literal or explicit
 * port → direct; else /.well-known/matrix/server (delegation), else SRV _matrix-fed._tcp then
 * _matrix._tcp, else port 8448. Results are cached for as long as the well-known answer they
 * follow may be: its Cache-Control max-age, else federation.cacheTtl, at most 48 hours; an
 * error for an hour. A resolution is cached on probation until a request to it is answered
 * (`vouch`), so names made up by callers cannot push real homeservers out of the cache.
 */
import { FederationError } from './types.js';
import type { Destination, OutboundHttp, OutboundResponse } from './http.js';
import { pickSrvTarget, type DnsResolver } from './dns.js';
import { bareHost, parseServerName, urlHost, type ServerName } from './server-name.js';
import { AdmissionCache, SingleFlight } from './cache.js';

const HOUR = 3_600_000;
const MAX_CACHE_TIME = 48 * HOUR;
const ERROR_CACHE_TIME = HOUR;
const MAX_REDIRECTS = 5;
const MAX_CACHED_NAMES = 10_000;
const DEFAULT_PORT = 8448;

export interface ResolverOptions {
  /** Cache lifetime of a well-known answer without cache headers (ms). */
  cacheTtl: number;
  /** Port of /.well-known requests: 443, except in tests, which cannot bind it. */
  wellKnownPort?: number;
  /** Names cached (besides those on probation); tests use a small number. */
  cacheSize?: number;
}

interface WellKnownOutcome {
  delegated: { text: string; name: ServerName } | null;
  expiresAt: number;
}

export class ServerResolver {
  private readonly cache: AdmissionCache<{ destination: Destination; expiresAt: number }>;
  private readonly resolving = new SingleFlight<Destination>();
  private readonly wellKnownPort: number;

  constructor(private readonly http: OutboundHttp, private readonly dns: DnsResolver, private readonly options: ResolverOptions) {
    this.wellKnownPort = options.wellKnownPort ?? 443;
    this.cache = new AdmissionCache(options.cacheSize ?? MAX_CACHED_NAMES);
  }

  async resolve(serverName: string): Promise<Destination> {
    const name = parseServerName(serverName);
    if (!name) throw new FederationError(`"${serverName}" is not a valid server name`, 'invalid-server-name');
    if (name.ipVersion !== 0 || name.port !== null) {
      return { host: name.host, port: name.port ?? DEFAULT_PORT, hostHeader: serverName };
    }
    const cached = this.cache.get(serverName);
    if (cached && cached.expiresAt > Date.now()) return cached.destination;
    return this.resolving.run(serverName, async () => {
      const wellKnown = await this.fetchWellKnown(name.host);
      const destination = wellKnown.delegated ? await this.resolveDelegated(wellKnown.delegated.text, wellKnown.delegated.name) : await this.viaSrv(name.host);
      this.cache.propose(serverName, { destination, expiresAt: wellKnown.expiresAt });
      return destination;
    });
  }

  /** `serverName` answered a request: its resolution leaves probation. */
  vouch(serverName: string): void {
    this.cache.vouch(serverName);
  }

  private async resolveDelegated(text: string, delegated: ServerName): Promise<Destination> {
    if (delegated.ipVersion !== 0 || delegated.port !== null) {
      return { host: delegated.host, port: delegated.port ?? DEFAULT_PORT, hostHeader: text };
    }
    return this.viaSrv(delegated.host);
  }

  /** SRV _matrix-fed._tcp, then the deprecated _matrix._tcp, then port 8448. Host header and certificate stay `hostname`. */
  private async viaSrv(hostname: string): Promise<Destination> {
    for (const service of ['_matrix-fed._tcp', '_matrix._tcp']) {
      const records = await this.dns.resolveSrv(`${service}.${hostname}`).catch(() => []);
      const target = pickSrvTarget(records);
      if (target) return { host: target.name, port: target.port, hostHeader: hostname };
    }
    return { host: hostname, port: DEFAULT_PORT, hostHeader: hostname };
  }

  private async fetchWellKnown(hostname: string): Promise<WellKnownOutcome> {
    const failed: WellKnownOutcome = { delegated: null, expiresAt: Date.now() + ERROR_CACHE_TIME };
    let destination: Destination = { host: hostname, port: this.wellKnownPort, hostHeader: hostname };
    let path = '/.well-known/matrix/server';
    const visited = new Set<string>();
    for (let redirects = 0; ; redirects++) {
      const url = `https://${urlHost(destination.host)}:${destination.port}${path}`;
      if (visited.has(url)) return failed;
      visited.add(url);
      let response: OutboundResponse;
      try {
        response = await this.http.send(destination, { method: 'GET', path });
      } catch {
        return failed;
      }
      const location = response.headers.location;
      if (response.status >= 300 && response.status < 400 && typeof location === 'string') {
        const next = redirects < MAX_REDIRECTS ? safeUrl(location, url) : null;
        if (!next || next.protocol !== 'https:') return failed;
        destination = { host: bareHost(next.hostname), port: Number(next.port) || 443, hostHeader: next.host };
        path = `${next.pathname}${next.search}`;
        continue;
      }
      const text = (response.json as Record<string, unknown> | null)?.['m.server'];
      const name = response.status === 200 && typeof text === 'string' ? parseServerName(text) : null;
      if (!name) return failed;
      return { delegated: { text: text as string, name }, expiresAt: Date.now() + this.cacheTime(response.headers['cache-control']) };
    }
  }

  /** How long a well-known answer may be kept, from its Cache-Control header. */
  private cacheTime(header: string | string[] | undefined): number {
    const directives = (Array.isArray(header) ? header.join(',') : header ?? '').toLowerCase();
    if (/(^|[\s,])(no-store|no-cache)($|[\s,])/.test(directives)) return 0;
    const maxAge = /(?:^|[\s,])max-age\s*=\s*"?(\d+)/.exec(directives);
    return Math.min(maxAge ? Number(maxAge[1]) * 1000 : this.options.cacheTtl, MAX_CACHE_TIME);
  }
}

function safeUrl(location: string, base: string): URL | null {
  try {
    return new URL(location, base);
  } catch {
    return null;
  }
}
