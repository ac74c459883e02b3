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

export interface Federation {
  /** ms one request() may take at most, resolution included. */
  readonly deadline: number;
  /**
   * Sends a request to the homeserver `serverName`, resolved as the server-server spec says
   * (IP literal / explicit port; /.well-known/matrix/server; SRV _matrix-fed._tcp then
   * _matrix._tcp; port 8448), through the SSRF guard, with timeouts and a response size cap.
   * Throws FederationError when the server cannot be reached or refuses to be reached.
   */
  request(serverName: string, request: FederationRequest): Promise<FederationResponse>;
}

export class FederationError extends Error {
  constructor(message: string, readonly reason: 'unreachable' | 'forbidden-address' | 'bad-response' | 'invalid-server-name') {
    super(message);
    this.name = 'FederationError';
  }
}

export interface XMatrix {
  /**
   * Verifies the request's `Authorization: X-Matrix …` header against the origin's keys
   * (fetched from /_matrix/key/v2/server and cached), over {method, uri, origin,
   * destination_is, content}. Returns the verified origin server name; throws a 401/403
   * MatrixError otherwise.
   */
  verify(request: FastifyRequest): Promise<string>;
}
