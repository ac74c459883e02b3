/**
 * The one outbound HTTPS client of unisd (undici). Every connection goes through the SSRF
 * guard: the destination is resolved here and the socket is opened to the checked IP itself,
 * so a DNS answer that changes between check and connect (rebinding) cannot slip through.
 * TLS: SNI and certificate name are the hostname of the Host header, none for IP literals
 * (server-server spec, TLS); verification can be switched off per deployment.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { Agent, errors as undiciErrors } from 'undici';
import { FederationError } from './types.js';
import type { AddressGuard } from './address-guard.js';
import type { DnsResolver } from './dns.js';
import { bareHost, urlHost } from './server-name.js';

export interface Destination {
  /** Where to connect: a DNS name or an IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** The Host header. Its hostname is also the TLS SNI and the name the certificate must match. */
  hostHeader: string;
}

export interface OutboundRequest {
  method: 'GET' | 'POST' | 'PUT';
  /** Path and query, percent-encoded. */
  path: string;
  body?: unknown;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or null when the body was not JSON. */
  json: unknown;
}

export interface OutboundOptions {
  /** ms: bounds connecting (TLS included) and, from its start, the request up to the end of the body. DNS lookups are bounded by the caller's resolver. */
  timeout: number;
  maxResponseBytes: number;
  verifyTls: boolean;
  guard: AddressGuard;
  dns: DnsResolver;
}

export class OutboundHttp {
  private readonly agent: Agent;

  constructor(private readonly options: OutboundOptions) {
    this.agent = new Agent({
      maxResponseSize: options.maxResponseBytes,
      connections: 16,
      connect: (target, callback) => {
        // URL parsing drops the default port, so an empty port means 443.
        this.connectGuarded(target.hostname, Number(target.port) || 443, target.servername ?? null)
          .then((socket) => callback(null, socket), (err: Error) => callback(err, null));
      },
    });
  }

  async send(destination: Destination, request: OutboundRequest): Promise<OutboundResponse> {
    const headers: Record<string, string> = { host: destination.hostHeader, accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await this.agent.request({
        origin: `https://${urlHost(destination.host)}:${destination.port}`,
        path: request.path,
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.options.timeout),
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, json: parseJson(text) };
    } catch (err) {
      throw asFederationError(err, destination, this.options);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private async connectGuarded(hostname: string, port: number, servername: string | null): Promise<TLSSocket> {
    const host = bareHost(hostname);
    const addresses = isIP(host) ? [host] : await this.options.dns.lookup(host);
    const address = addresses.find((candidate) => this.options.guard.permits(candidate));
    if (address === undefined) {
      if (addresses.length === 0) throw new FederationError(`${host} has no address`, 'unreachable');
      const what = isIP(host) ? `${host} is an address` : `${host} resolves only to addresses`;
      throw new FederationError(`${what} unisd may not contact (see federation.allowedAddresses)`, 'forbidden-address');
    }
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        host: address,
        port,
        // Node checks the certificate against `servername`, or against the IP when there is none.
        ...(servername ? { servername } : {}),
        rejectUnauthorized: this.options.verifyTls,
        ALPNProtocols: ['http/1.1'],
      });
      const timer = setTimeout(() => socket.destroy(new FederationError(`connecting to ${host} timed out`, 'unreachable')), this.options.timeout);
      socket.once('secureConnect', () => { clearTimeout(timer); resolve(socket); });
      socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function asFederationError(err: unknown, destination: Destination, options: OutboundOptions): FederationError {
  if (err instanceof FederationError) return err;
  const where = destination.hostHeader;
  if (err instanceof undiciErrors.ResponseExceededMaxSizeError) {
    return new FederationError(`${where} answered more than ${options.maxResponseBytes} bytes`, 'bad-response');
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return new FederationError(`${where} did not answer within ${options.timeout} ms`, 'unreachable');
  }
  const cause = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
  if (/CERT|SELF_SIGNED|ERR_TLS/.test(cause)) return new FederationError(`${where} presented a TLS certificate that was refused (${cause})`, 'unreachable');
  return new FederationError(`${where} is unreachable (${cause})`, 'unreachable');
}
