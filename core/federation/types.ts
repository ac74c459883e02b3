/**
 * Contracts of the homeserver federation client (core/federation/). Implemented by
 * FederationClient and XMatrixVerifier; decorated as `app.federation` and `app.xmatrix` by
 * the federation plugin (core/federation/plugin.ts).
 */
import type { FastifyRequest } from 'fastify';

export interface FederationResponse {
  status: number;
  /** Parsed JSON body, or null when the body was not JSON. */
  json: unknown;
}

export interface FederationRequest {
  method: 'GET' | 'POST' | 'PUT';
  /** Path and query, starting with /_matrix/… (query values already percent-encoded). */
  path: string;
  body?: unknown;
}

export interface RequestOptions {
  /**
   * The caller the request is made for (its rate-limit key: a client network), when a request
   * from outside makes unisd contact a server it names. Such requests are counted per caller
   * (federation.rateLimit) and share the cap on concurrent outbound requests
   * (federation.maxConcurrent, maxQueued); past either, 429 M_LIMIT_EXCEEDED. unisd's own work
   * (3pid/onbind deliveries) has none.
   */
  onBehalfOf?: string;
}

export interface Federation {
  /** ms one request() may take at most, resolution included. */
  readonly deadline: number;
  /**
   * Sends a request to the homeserver `serverName`, resolved as the server-server spec says
   * (IP literal / explicit port; /.well-known/matrix/server; SRV _matrix-fed._tcp then
   * _matrix._tcp; port 8448), through the SSRF guard, with timeouts and a response size cap.
   * Throws FederationError when the server cannot be reached or refuses to be reached, and a
   * 429 MatrixError when a caller's request is over its limits (see RequestOptions).
   */
  request(serverName: string, request: FederationRequest, options?: RequestOptions): Promise<FederationResponse>;
}

export type FederationFailure = 'unreachable' | 'forbidden-address' | 'bad-response' | 'invalid-server-name';

export class FederationError extends Error {
  constructor(message: string, readonly reason: FederationFailure) {
    super(message);
    this.name = 'FederationError';
  }
}

/**
 * What a caller is told when a server it named cannot be asked: the kind of failure only. The
 * detail (no address, a private address, a refused port, a certificate error) goes to the log:
 * otherwise unisd would tell strangers which names resolve, to what, and which ports are open.
 */
export const FAILURE_FOR_CALLER: Record<FederationFailure, string> = {
  'unreachable': 'could not be reached',
  'forbidden-address': 'could not be reached',
  'bad-response': 'gave an unusable answer',
  'invalid-server-name': 'is not a valid server name',
};

export interface XMatrix {
  /**
   * Verifies the request's `Authorization: X-Matrix …` header against the origin's keys
   * (fetched from /_matrix/key/v2/server and cached), over {method, uri, origin,
   * destination_is, content}. Returns the verified origin server name; throws a 401
   * MatrixError otherwise, or 429 when fetching the keys would exceed the limits of the
   * requester's network (RequestOptions.onBehalfOf).
   */
  verify(request: FastifyRequest): Promise<string>;
}
