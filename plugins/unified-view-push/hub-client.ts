/**
 * Requests to one hub (undici, a deadline per request, a cap on answers): its hash_details, and
 * pushes of chunks to POST /_matrix/identity/v2/lookups, authenticated as
 * /work/coord/unified-view-protocol.md says: X-Matrix signed with this server's ed25519 key, or
 * the shared secret. Hub URLs are operator configuration, so no SSRF guard applies.
 */
import { Agent, request } from 'undici';
import { canonicalJson } from '../../core/crypto/canonical-json.js';
import type { SigningKey } from '../../core/crypto/signing.js';
import { xMatrixAuthorization } from '../../core/federation/x-matrix.js';
import { baseUrl, type HubConfig } from './config.js';

/** Answers of a hub are small JSON objects (hash_details, chunk receipts). */
const MAX_ANSWER_BYTES = 64 * 1024;
const LOOKUPS_PATH = '/_matrix/identity/v2/lookups';

export interface HubPeppers {
  current: string;
  /** Still accepted by the hub, newest first. */
  alternates: string[];
}

export interface ChunkReceipt {
  snapshot: string;
  chunk: number;
  received: number;
  committed: boolean;
}

export interface Chunk {
  pepper: string;
  snapshot: string;
  chunk: number;
  final: boolean;
  hashes: string[];
}

/**
 * What went wrong with a request to a hub. `transient`: worth the same request again after a
 * wait (network, timeout, 5xx, 429); otherwise the push as a whole must change or stop.
 */
export class HubError extends Error {
  override name = 'HubError';
  constructor(message: string, readonly transient: boolean, readonly status?: number, readonly errcode?: string, readonly retryAfterMs?: number, readonly lookupPepper?: string) {
    super(message);
  }
}

export class HubClient {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(private readonly hub: HubConfig, private readonly origin: string, private readonly key: SigningKey, private readonly timeout: number) {
    this.base = baseUrl(hub.url);
    this.agent = new Agent({ connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout, maxResponseSize: MAX_ANSWER_BYTES });
  }

  get url(): string {
    return this.hub.url;
  }

  /**
   * The hub's current and alternate peppers, from its hash_details: the request carries this
   * member's authorization, as a push does (a unisd hub answers hash_details to its members,
   * not only to user tokens). A 401 or 403 here means the hub refuses this member's credentials,
   * which its pushes would meet as well.
   */
  async peppers(): Promise<HubPeppers> {
    const body = await this.call('GET', '/_matrix/identity/v2/hash_details') as { lookup_pepper?: unknown; alt_lookup_peppers?: unknown; algorithms?: unknown };
    if (typeof body.lookup_pepper !== 'string' || body.lookup_pepper === '') throw new HubError('hash_details answered without lookup_pepper', false);
    if (Array.isArray(body.algorithms) && !body.algorithms.includes('sha256')) throw new HubError('hash_details does not offer sha256', false);
    const alternates = Array.isArray(body.alt_lookup_peppers)
      ? body.alt_lookup_peppers.filter((p): p is string => typeof p === 'string' && p !== '' && p !== body.lookup_pepper)
      : [];
    return { current: body.lookup_pepper, alternates };
  }

  async push(chunk: Chunk): Promise<ChunkReceipt> {
    const content = {
      algorithm: 'sha256',
      pepper: chunk.pepper,
      mappings: { [this.origin]: chunk.hashes },
      snapshot: chunk.snapshot,
      chunk: chunk.chunk,
      final: chunk.final,
    };
    const receipt = await this.call('POST', LOOKUPS_PATH, content) as Partial<ChunkReceipt>;
    if (receipt.snapshot !== chunk.snapshot || receipt.chunk !== chunk.chunk || typeof receipt.committed !== 'boolean') {
      throw new HubError('the hub answered a push with something else than its receipt', false);
    }
    return receipt as ChunkReceipt;
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private authorization(method: string, uri: string, content: unknown): string {
    if (this.hub.auth === 'secret') return `X-Unisd-Member origin="${this.origin}",secret="${this.hub.secret}"`;
    return xMatrixAuthorization({ method, uri, destination: this.hub.server, content }, this.origin, this.key);
  }

  private async call(method: 'GET' | 'POST', route: string, content?: unknown): Promise<unknown> {
    const url = new URL(this.base + route);
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    if (content !== undefined) {
      // The bytes sent are the bytes signed (the hub checks the signature over their canonical form).
      body = canonicalJson(content);
      headers['content-type'] = 'application/json';
    }
    headers.authorization = this.authorization(method, url.pathname + url.search, content);
    let status: number;
    let text: string;
    try {
      const response = await request(url, { dispatcher: this.agent, method, headers, body, signal: AbortSignal.timeout(this.timeout * 3) });
      status = response.statusCode;
      text = await response.body.text();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new HubError(`${this.hub.url} could not be reached (${e.code ?? e.name})`, true);
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new HubError(`${this.hub.url} answered HTTP ${status} without JSON`, status >= 500);
    }
    if (status >= 200 && status < 300 && typeof json === 'object' && json !== null) return json;
    const errcode = typeof json?.errcode === 'string' ? json.errcode : undefined;
    const retryAfterMs = typeof json?.retry_after_ms === 'number' ? json.retry_after_ms : undefined;
    const lookupPepper = typeof json?.lookup_pepper === 'string' && json.lookup_pepper !== '' ? json.lookup_pepper : undefined;
    // The hub's error text is its own words: logged as it came, it holds no 3PID.
    const said = typeof json?.error === 'string' ? `: ${json.error.slice(0, 200)}` : '';
    throw new HubError(`${this.hub.url} answered ${route} with HTTP ${status} ${errcode ?? ''}${said}`, status >= 500 || status === 429, status, errcode, retryAfterMs, lookupPepper);
  }
}
