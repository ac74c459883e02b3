/**
 * The client side of MSC4004's unified view: the whole discovery a client performs, as one
 * function (and `unisd lookup --hub`).
 *
 * 1. At the hub: GET /v2/hash_details, hash every address with its pepper (sha256), POST
 *    /v2/lookup. `mappings` are the hub's own users. `third_party_mappings` name, per member
 *    server, the hashes it declared; hashes the hub answered neither way are asked again with
 *    each of the hub's `alt_lookup_peppers` (right after a rotation, members may not have
 *    pushed the new pepper yet; the previous one is still theirs).
 * 2. For each member named: resolve its base URL (`https://<server name>` unless told
 *    otherwise), GET its hash_details, hash the original addresses anew with its pepper (a hub's
 *    hash means nothing there), POST /v2/lookup, take its `mappings`.
 *
 * v2 needs an access token at every server: `token(baseUrl, serverName)` supplies them (for
 * instance registerWithOpenId below, from an OpenID token of the user's homeserver). A member
 * that fails is reported in `failures`; the rest of the answer stands.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { lookupHash } from '../../core/crypto/lookup-hash.js';
import { isValidServerName } from '../../core/federation/server-name.js';
import { normaliseAddress } from '../../core/threepid.js';

export interface ThreePidQuery {
  medium: string;
  address: string;
}

export interface DiscoveryOptions {
  /** The hub's base URL, e.g. https://id.hub.example.org. */
  hub: string;
  /** The access token to use at a server (its base URL, its name; for the hub: its URL's host), or null to send none. */
  token: (baseUrl: string, serverName: string) => Promise<string | null> | string | null;
  /** Base URL of a member server named in third_party_mappings (default: https://<server>). */
  resolveBaseUrl?: (serverName: string) => string;
  /** Deadline of each request, ms (default 10 s). */
  timeout?: number;
  /** Members followed at most (default 32): a hub names them, this bounds what it can make the client do. */
  maxServers?: number;
  /** Ask the hub's alternate peppers for what the current one did not answer (default true). */
  alternates?: boolean;
  dispatcher?: Dispatcher;
}

export interface Discovered {
  medium: string;
  /** As given. */
  address: string;
  mxid: string;
  /** Who answered: the hub's base URL, or the member's server name. */
  foundAt: string;
  /** The member the hub pointed to (absent for the hub's own users). */
  server?: string;
}

export interface DiscoveryResult {
  found: Discovered[];
  /** Known nowhere asked. */
  notFound: ThreePidQuery[];
  /** Members that could not be asked, and why. */
  failures: Array<{ server: string; error: string }>;
}

/** Addresses per lookup request: under every server's hashing.maxAddresses default (10,000). */
const ADDRESSES_PER_REQUEST = 1000;
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
}

interface Asked {
  query: ThreePidQuery;
  /** Normalised address (what servers hash). */
  address: string;
}

interface LookupAnswer {
  mappings: Record<string, string>;
  third_party_mappings: Record<string, string[]>;
}

class IdentityServer {
  constructor(readonly base: string, readonly name: string, private readonly token: string | null, private readonly http: Http) {}

  async peppers(): Promise<{ current: string; alternates: string[] }> {
    const body = await this.http.json('GET', `${this.base}/_matrix/identity/v2/hash_details`, this.token) as { lookup_pepper?: unknown; algorithms?: unknown; alt_lookup_peppers?: unknown };
    if (typeof body.lookup_pepper !== 'string') throw new DiscoveryError(`${this.base}: hash_details has no lookup_pepper`);
    if (!Array.isArray(body.algorithms) || !body.algorithms.includes('sha256')) throw new DiscoveryError(`${this.base}: hash_details does not offer sha256`);
    const alternates = Array.isArray(body.alt_lookup_peppers) ? body.alt_lookup_peppers.filter((p): p is string => typeof p === 'string' && p !== body.lookup_pepper) : [];
    return { current: body.lookup_pepper, alternates };
  }

  /** Looks up `asked` hashed with `pepper`: hash → the asked 3PID, and the answer. */
  async lookup(asked: Asked[], pepper: string): Promise<{ byHash: Map<string, Asked>; answer: LookupAnswer }> {
    const byHash = new Map(asked.map((a) => [lookupHash(a.address, a.query.medium, pepper), a]));
    const answer: LookupAnswer = { mappings: {}, third_party_mappings: {} };
    const hashes = [...byHash.keys()];
    for (let i = 0; i < hashes.length; i += ADDRESSES_PER_REQUEST) {
      const body = await this.http.json('POST', `${this.base}/_matrix/identity/v2/lookup`, this.token, {
        algorithm: 'sha256', pepper, addresses: hashes.slice(i, i + ADDRESSES_PER_REQUEST),
      }) as Partial<LookupAnswer>;
      for (const [hash, mxid] of Object.entries(body.mappings ?? {})) if (typeof mxid === 'string') answer.mappings[hash] = mxid;
      for (const [server, list] of Object.entries(body.third_party_mappings ?? {})) {
        if (Array.isArray(list)) (answer.third_party_mappings[server] ??= []).push(...list.filter((h): h is string => typeof h === 'string'));
      }
    }
    return { byHash, answer };
  }
}

class Http {
  constructor(private readonly dispatcher: Dispatcher, private readonly timeout: number) {}

  async json(method: 'GET' | 'POST', url: string, token: string | null, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        dispatcher: this.dispatcher, method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeout),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new DiscoveryError(`${new URL(url).origin} could not be reached (${e.code ?? e.name})`);
    }
    let json: Record<string, unknown> | null = null;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch { /* reported below */ }
    if (status >= 200 && status < 300 && json && typeof json === 'object') return json;
    const what = json && typeof json.errcode === 'string' ? ` ${json.errcode}${typeof json.error === 'string' ? `: ${json.error.slice(0, 200)}` : ''}` : '';
    throw new DiscoveryError(`${new URL(url).pathname} at ${new URL(url).origin} answered HTTP ${status}${what}`);
  }
}

const trimBase = (url: string): string => url.replace(/\/+$/, '');

/** The whole discovery of `threepids` through the hub at `options.hub`. */
export async function discover(threepids: ThreePidQuery[], options: DiscoveryOptions): Promise<DiscoveryResult> {
  const ownDispatcher = options.dispatcher ? null : new Agent({ maxResponseSize: MAX_ANSWER_BYTES });
  const http = new Http(options.dispatcher ?? ownDispatcher!, options.timeout ?? 10_000);
  const resolveBaseUrl = options.resolveBaseUrl ?? ((server: string) => `https://${server}`);
  try {
    const asked: Asked[] = threepids.map((query) => ({ query, address: normaliseAddress(query.medium, query.address) }));
    const result: DiscoveryResult = { found: [], notFound: [], failures: [] };
    const hubBase = trimBase(options.hub);
    const hubName = new URL(hubBase).host;
    const hub = new IdentityServer(hubBase, hubName, await options.token(hubBase, hubName), http);
    const { current, alternates } = await hub.peppers();

    /** Answered by the hub: mapped, or pointed to a member. */
    const answered = new Set<Asked>();
    const resolved = new Set<Asked>();
    /** member server → the 3PIDs the hub says it holds. */
    const pointed = new Map<string, Set<Asked>>();
    for (const pepper of [current, ...(options.alternates === false ? [] : alternates)]) {
      const pending = asked.filter((a) => !answered.has(a));
      if (pending.length === 0) break;
      const { byHash, answer } = await hub.lookup(pending, pepper);
      for (const [hash, mxid] of Object.entries(answer.mappings)) {
        const a = byHash.get(hash);
        if (a && !answered.has(a)) {
          answered.add(a);
          resolved.add(a);
          result.found.push({ ...a.query, mxid, foundAt: hubBase });
        }
      }
      for (const [server, hashes] of Object.entries(answer.third_party_mappings)) {
        for (const hash of hashes) {
          const a = byHash.get(hash);
          if (!a || answered.has(a)) continue;
          answered.add(a);
          let set = pointed.get(server);
          if (!set) pointed.set(server, (set = new Set()));
          set.add(a);
        }
      }
    }

    const servers = [...pointed.keys()];
    for (const [i, server] of servers.entries()) {
      if (i >= (options.maxServers ?? 32)) {
        result.failures.push({ server, error: 'not asked: the hub named more member servers than maxServers' });
        continue;
      }
      if (!isValidServerName(server)) {
        result.failures.push({ server, error: 'not asked: not a server name' });
        continue;
      }
      try {
        const base = trimBase(resolveBaseUrl(server));
        const member = new IdentityServer(base, server, await options.token(base, server), http);
        const mine = [...pointed.get(server)!];
        const { byHash, answer } = await member.lookup(mine, (await member.peppers()).current);
        for (const [hash, mxid] of Object.entries(answer.mappings)) {
          const a = byHash.get(hash);
          if (!a || resolved.has(a)) continue;
          resolved.add(a);
          result.found.push({ ...a.query, mxid, foundAt: server, server });
        }
      } catch (err) {
        result.failures.push({ server, error: (err as Error).message });
      }
    }
    result.notFound = asked.filter((a) => !resolved.has(a)).map((a) => a.query);
    return result;
  } finally {
    await ownDispatcher?.close();
  }
}

/**
 * An access token at the identity server `baseUrl`, registered with an OpenID token of the
 * user's homeserver (`POST /v2/account/register`, what Element does). One OpenID token serves
 * every identity server until it expires.
 */
export async function registerWithOpenId(baseUrl: string, openId: { access_token: string; matrix_server_name: string; expires_in?: number }, dispatcher?: Dispatcher): Promise<string> {
  const own = dispatcher ? null : new Agent({ maxResponseSize: 64 * 1024 });
  try {
    const body = await new Http(dispatcher ?? own!, 10_000).json('POST', `${trimBase(baseUrl)}/_matrix/identity/v2/account/register`, null, {
      access_token: openId.access_token, token_type: 'Bearer', matrix_server_name: openId.matrix_server_name, expires_in: openId.expires_in ?? 3600,
    }) as { token?: unknown; access_token?: unknown };
    const token = body.token ?? body.access_token;
    if (typeof token !== 'string') throw new DiscoveryError(`${baseUrl}: account/register answered without a token`);
    return token;
  } finally {
    await own?.close();
  }
}
