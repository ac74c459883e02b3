/**
 * A stand-in for a unified-view hub (MSC4004), on loopback, that checks what a member sends the
 * way /work/coord/unified-view-protocol.md has it: every request authenticated (X-Matrix signed
 * with the member's ed25519 key over {method, uri, origin, destination, content}, checked with
 * the real public key; or the member's shared secret), chunk fields in order, the pepper
 * current or alternate. It keeps the committed snapshot per pepper, as a hub does.
 *
 *   const hub = await startFakeHub({ name: 'hub.test', member: 'member.test', publicKey });
 *   hub.url; hub.pepper = 'new'; hub.alternates = ['old'];
 *   hub.publicKey = app.signingKey.publicKey  // the member's key, once its app exists
 *   hub.committed.get(pepper)   // Set of hashes of the member's last complete snapshot
 *   hub.requests                // every request: method, path, chunk fields, status answered
 *   hub.failNext(n, status)     // answer the next n pushes with this status (503, 429, 409…)
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { parseXMatrix } from '../../core/federation/x-matrix.js';
import { verifyJsonSignature } from '../../core/crypto/signing.js';

export interface FakeHubOptions {
  name: string;
  member: string;
  /** The member's ed25519 public key (signature auth). */
  publicKey?: Uint8Array;
  /** The member's shared secret (secret auth). */
  secret?: string;
  pepper?: string;
}

export interface SeenRequest {
  method: string;
  path: string;
  auth: 'signature' | 'secret' | 'none' | 'bad';
  pepper?: string;
  snapshot?: string;
  chunk?: number;
  final?: boolean;
  hashes?: number;
  status: number;
}

interface Open { pepper: string; hashes: Set<string>; received: Set<number> }

export class FakeHub {
  pepper: string;
  alternates: string[] = [];
  /** The member's ed25519 public key that signatures are checked with. */
  publicKey: Uint8Array | undefined;
  /** Answer hash_details 401 to members, as a hub refusing their credentials there. */
  detailsForUsersOnly = false;
  /** Called after each hash_details answer (to rotate between a member's read and its push). */
  afterDetails: (() => void) | null = null;
  readonly committed = new Map<string, Set<string>>();
  readonly requests: SeenRequest[] = [];
  private readonly open = new Map<string, Open>();
  private failures: Array<{ status: number; body: unknown }> = [];
  private readonly server: Server;
  private readonly waiters = new Set<() => void>();
  port = 0;

  constructor(private readonly options: FakeHubOptions) {
    this.pepper = options.pepper ?? 'hubpepper1';
    this.publicKey = options.publicKey;
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
        for (const wake of this.waiters) wake();
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `count` pushes are answered `status` (with `body`, default an M_UNKNOWN error). */
  failNext(count: number, status: number, body: unknown = { errcode: 'M_UNKNOWN', error: 'failing on purpose' }): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, body });
  }

  /** Resolves when `condition()` holds after a request, or rejects after `ms`. */
  async until(condition: () => boolean, ms = 20_000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new Error('fake hub: condition not met in time')); }, ms);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = (this.server.address() as { port: number }).port;
      resolve();
    }));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private authenticate(req: IncomingMessage, content: unknown): SeenRequest['auth'] {
    const header = req.headers.authorization ?? '';
    const secret = /^X-Unisd-Member origin="([^"]*)",secret="([^"]*)"$/.exec(header);
    if (secret) return secret[1] === this.options.member && secret[2] === this.options.secret ? 'secret' : 'bad';
    const params = parseXMatrix(header);
    if (!params) return 'none';
    if (!this.publicKey || params.origin !== this.options.member || params.destination !== this.options.name) return 'bad';
    const signed = {
      method: req.method, uri: req.url, origin: params.origin, destination: this.options.name,
      ...(content !== undefined ? { content } : {}), signatures: { [params.origin]: { [params.key]: params.sig } },
    };
    return verifyJsonSignature(signed, params.origin, params.key, this.publicKey) ? 'signature' : 'bad';
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    let text = '';
    for await (const part of req) text += part;
    const content = text ? JSON.parse(text) : undefined;
    const seen: SeenRequest = { method: req.method!, path: req.url!, auth: this.authenticate(req, content), status: 0 };
    this.requests.push(seen);
    const answer = (status: number, body: unknown) => {
      seen.status = status;
      return { status, body };
    };
    if (seen.auth === 'none' || seen.auth === 'bad') return answer(401, { errcode: 'M_UNAUTHORIZED', error: 'who are you' });
    if (req.method === 'GET' && req.url === '/_matrix/identity/v2/hash_details') {
      if (this.detailsForUsersOnly) return answer(401, { errcode: 'M_UNAUTHORIZED', error: 'Unrecognised access token' });
      const details = { algorithms: ['sha256'], lookup_pepper: this.pepper, alt_lookup_peppers: [...this.alternates] };
      this.afterDetails?.();
      return answer(200, details);
    }
    if (req.method !== 'POST' || req.url !== '/_matrix/identity/v2/lookups') return answer(404, { errcode: 'M_UNRECOGNIZED', error: 'no' });
    const { algorithm, pepper, mappings, snapshot, chunk, final } = content;
    Object.assign(seen, { pepper, snapshot, chunk, final, hashes: mappings?.[this.options.member]?.length });
    const failure = this.failures.shift();
    if (failure) return answer(failure.status, failure.body);
    if (algorithm !== 'sha256' || typeof snapshot !== 'string' || !Number.isInteger(chunk) || typeof final !== 'boolean') {
      return answer(400, { errcode: 'M_INVALID_PARAM', error: 'bad chunk fields' });
    }
    if (Object.keys(mappings).some((server) => server !== this.options.member) || !Array.isArray(mappings[this.options.member])) {
      return answer(403, { errcode: 'M_FORBIDDEN', error: 'not your name' });
    }
    if (pepper !== this.pepper && !this.alternates.includes(pepper)) {
      return answer(400, { errcode: 'M_INVALID_PEPPER', error: 'unknown pepper', lookup_pepper: this.pepper, algorithm: 'sha256' });
    }
    let open = this.open.get(snapshot);
    if (!open) this.open.set(snapshot, (open = { pepper, hashes: new Set(), received: new Set() }));
    for (const hash of mappings[this.options.member]) open.hashes.add(hash);
    open.received.add(chunk);
    if (!final) return answer(200, { snapshot, chunk, received: open.received.size, committed: false });
    this.open.delete(snapshot);
    for (let i = 0; i <= chunk; i++) if (!open.received.has(i)) return answer(409, { errcode: 'M_UNKNOWN', error: 'unknown or already committed snapshot' });
    this.committed.set(pepper, open.hashes);
    return answer(200, { snapshot, chunk, received: open.received.size, committed: true });
  }
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const hub = new FakeHub(options);
  await hub.listen();
  return hub;
}
