/**
 * A fake Matrix homeserver for tests: real HTTPS on 127.0.0.1 (port 0), with a self-signed
 * certificate for 127.0.0.1 and localhost, so unisd's federation client must run with
 * `federation: { verifyTls: false, allowedAddresses: ['127.0.0.1'] }` (see `federationConfig`).
 *
 *   const hs = await startFakeHomeserver();
 *   hs.serverName                          // "127.0.0.1:<port>": matrix_server_name, X-Matrix origin, user ids' server
 *   hs.addOpenIdToken('tok', '@alice:' + hs.serverName)  // GET /_matrix/federation/v1/openid/userinfo?access_token=tok → {sub}
 *                                          //   unknown tokens → 401 M_UNKNOWN_TOKEN
 *   hs.signRequest({ method, uri, destination, content })  // value of an `Authorization: X-Matrix …` header
 *                                          //   signed with the key served at /_matrix/key/v2/server (destination_is)
 *   hs.onbinds                             // bodies of POST /_matrix/federation/v1/3pid/onbind, in order
 *   hs.onbindStatus = 500                  // answer onbind with this status (default 200 {}); failed ones are not recorded
 *   hs.override('/some/path', { status, headers, body } | { hang: true } | null)  // replace or add a route (e.g. /.well-known/matrix/server)
 *   hs.requests                            // every request: { method, path (with query), host, servername (TLS SNI or false) }
 *   await hs.stop(); await hs.start();     // down, then back on the same port
 *   await hs.close();                      // in t.after()
 *
 * For matrix-js-sdk it also answers POST /_matrix/client/v3/user/{userId}/openid/request_token
 * for requests bearing `hs.clientAccessToken`, issuing a userinfo-valid OpenID token.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { selfSignedCertificate } from './tls.js';
import { generateSigningKey, signJson, type SigningKey } from '../../core/crypto/signing.js';
import { randomToken } from '../../core/crypto/tokens.js';

export interface CannedResponse {
  status?: number;
  headers?: Record<string, string>;
  /** JSON-encoded unless a string. */
  body?: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  host: string | undefined;
  servername: string | false;
}

export interface SignedRequest {
  method: string;
  /** Path and query, exactly as sent to unisd. */
  uri: string;
  /** unisd's server name (goes into `destination_is` and the header's `destination`). */
  destination: string;
  content?: unknown;
  /** Sign with another key than the published one (to test unknown keys). */
  key?: SigningKey;
}

/** The federation config that lets unisd reach a fake homeserver. */
export const federationConfig = { verifyTls: false, allowedAddresses: ['127.0.0.1'] };

export class FakeHomeserver {
  readonly signingKey = generateSigningKey('fake');
  readonly clientAccessToken = randomToken();
  readonly onbinds: unknown[] = [];
  readonly requests: RecordedRequest[] = [];
  onbindStatus = 200;
  port = 0;
  private readonly openIdTokens = new Map<string, string>();
  private readonly overrides = new Map<string, CannedResponse | { hang: true }>();
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor() {
    this.server = createServer(selfSignedCertificate(), (req, res) => { this.handle(req, res); });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get serverName(): string {
    return `127.0.0.1:${this.port}`;
  }

  addOpenIdToken(token: string, userId: string): void {
    this.openIdTokens.set(token, userId);
  }

  override(path: string, response: CannedResponse | { hang: true } | null): void {
    if (response === null) this.overrides.delete(path);
    else this.overrides.set(path, response);
  }

  signRequest({ method, uri, destination, content, key = this.signingKey }: SignedRequest): string {
    const signed = signJson({ method, uri, origin: this.serverName, destination_is: destination, ...(content !== undefined ? { content } : {}) }, this.serverName, key);
    const sig = signed.signatures[this.serverName][key.keyId];
    return `X-Matrix origin="${this.serverName}",destination="${destination}",key="${key.keyId}",sig="${sig}"`;
  }

  /** Listens on the port it had before, or a new one the first time. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Stops listening and drops open connections; `start()` brings it back on the same port. */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  close(): Promise<void> {
    return this.server.listening ? this.stop() : Promise.resolve();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://fake');
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', host: req.headers.host, servername: (req.socket as TLSSocket).servername ?? false });
    const body = await readBody(req);
    const canned = this.overrides.get(url.pathname);
    if (canned && 'hang' in canned) return; // never answers; the socket is destroyed on stop()
    if (canned) return send(res, canned.status ?? 200, canned.body ?? {}, canned.headers);

    if (req.method === 'GET' && url.pathname === '/_matrix/federation/v1/openid/userinfo') {
      const sub = this.openIdTokens.get(url.searchParams.get('access_token') ?? '');
      return sub ? send(res, 200, { sub }) : send(res, 401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Access token unknown or expired' });
    }
    if (req.method === 'GET' && url.pathname === '/_matrix/key/v2/server') return send(res, 200, this.keyResponse());
    if (req.method === 'POST' && url.pathname === '/_matrix/federation/v1/3pid/onbind') {
      if (this.onbindStatus !== 200) return send(res, this.onbindStatus, { errcode: 'M_UNKNOWN', error: 'Failing on purpose' });
      this.onbinds.push(parseJson(body));
      return send(res, 200, {});
    }
    const openId = /^\/_matrix\/client\/v3\/user\/([^/]+)\/openid\/request_token$/.exec(url.pathname);
    if (req.method === 'POST' && openId) {
      if (req.headers.authorization !== `Bearer ${this.clientAccessToken}`) return send(res, 401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown access token' });
      const token = randomToken();
      this.addOpenIdToken(token, decodeURIComponent(openId[1]));
      return send(res, 200, { access_token: token, token_type: 'Bearer', matrix_server_name: this.serverName, expires_in: 3600 });
    }
    send(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  }

  private keyResponse(): Record<string, unknown> {
    return signJson({
      server_name: this.serverName,
      verify_keys: { [this.signingKey.keyId]: { key: this.signingKey.publicKeyBase64 } },
      old_verify_keys: {},
      valid_until_ts: Date.now() + 24 * 3_600_000,
    }, this.serverName, this.signingKey);
  }
}

export async function startFakeHomeserver(): Promise<FakeHomeserver> {
  const homeserver = new FakeHomeserver();
  await homeserver.start();
  return homeserver;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}
