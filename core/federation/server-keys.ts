/**
 * Homeservers' signing keys, fetched from /_matrix/key/v2/server through the federation client
 * and cached until valid_until_ts (at most 7 days, as the spec caps it). A response counts only
 * when it names the origin and is signed by the origin with the keys it lists. An origin is
 * asked again at most once a minute, and concurrent requests share one fetch, so unknown key ids
 * or a burst of signed requests cannot make unisd flood a server. Verified keys enter the main
 * cache; failures stay on probation, so made-up origins cannot push real homeservers out.
 */
import type { FastifyBaseLogger } from 'fastify';
import { FAILURE_FOR_CALLER, FederationError, type Federation } from './types.js';
import { MatrixError, unauthorized } from '../errors.js';
import { decodeBase64 } from '../crypto/base64.js';
import { verifyJsonSignature } from '../crypto/signing.js';
import { AdmissionCache, SingleFlight } from './cache.js';

const MAX_KEY_LIFETIME = 7 * 24 * 3_600_000;
const REFETCH_INTERVAL = 60_000;
const MAX_CACHED_ORIGINS = 1_000;
const ED25519_KEY_BYTES = 32;

interface CachedKeys {
  keys: Map<string, Uint8Array>;
  expiresAt: number;
  fetchedAt: number;
  /** Why the last fetch failed, answered until the next one. */
  problem: string | null;
}

export class ServerKeys {
  private readonly cache = new AdmissionCache<CachedKeys>(MAX_CACHED_ORIGINS);
  private readonly fetching = new SingleFlight<CachedKeys>();

  constructor(private readonly federation: Federation, private readonly log?: FastifyBaseLogger) {}

  /**
   * The public key `keyId` of `origin`; throws a 401 MatrixError otherwise. A fetch counts
   * against `caller` (see RequestOptions.onBehalfOf), whose limits may answer 429.
   */
  async publicKey(origin: string, keyId: string, caller?: string): Promise<Uint8Array> {
    const now = Date.now();
    let entry = this.cache.get(origin);
    const known = entry && entry.expiresAt > now && entry.keys.has(keyId);
    if (!entry || (!known && now - entry.fetchedAt >= REFETCH_INTERVAL)) entry = await this.refresh(origin, now, caller);
    const key = entry.expiresAt > now ? entry.keys.get(keyId) : undefined;
    if (key) return key;
    if (entry.problem) throw unauthorized(entry.problem);
    throw unauthorized(`${origin} has no current key ${keyId}`);
  }

  /** Fetches and caches the keys of `origin`, joining a fetch already under way. */
  private refresh(origin: string, now: number, caller: string | undefined): Promise<CachedKeys> {
    return this.fetching.run(origin, async () => {
      const entry = await this.fetch(origin, now, caller);
      if (entry.problem) this.cache.propose(origin, entry);
      else this.cache.admit(origin, entry);
      return entry;
    });
  }

  /** A failure is kept in the entry's `problem`; only a caller over its limits (429) is thrown, and nothing cached. */
  private async fetch(origin: string, now: number, caller: string | undefined): Promise<CachedKeys> {
    try {
      const response = await this.federation.request(origin, { method: 'GET', path: '/_matrix/key/v2/server' }, { onBehalfOf: caller });
      const { keys, validUntil } = verifiedKeys(origin, response.status, response.json, now);
      return { keys, expiresAt: Math.min(validUntil, now + MAX_KEY_LIFETIME), fetchedAt: now, problem: null };
    } catch (err) {
      if (err instanceof MatrixError) throw err;
      this.log?.info({ origin, reason: (err as FederationError).reason, detail: (err as Error).message }, 'fetching a homeserver\'s keys failed');
      const why = err instanceof FederationError ? `it ${FAILURE_FOR_CALLER[err.reason]}` : (err as Error).message;
      return { keys: new Map(), expiresAt: 0, fetchedAt: now, problem: `Could not get the keys of ${origin}: ${why}` };
    }
  }
}

/** The keys of a /_matrix/key/v2/server answer, checked as described above; throws with the reason otherwise. */
function verifiedKeys(origin: string, status: number, json: unknown, now: number): { keys: Map<string, Uint8Array>; validUntil: number } {
  if (status !== 200 || typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`the key server answered ${status} without a key object`);
  const response = json as Record<string, unknown>;
  if (response.server_name !== origin) throw new Error('the key response names another server');
  const validUntil = response.valid_until_ts;
  if (typeof validUntil !== 'number' || validUntil <= now) throw new Error('the key response has expired');
  const keys = new Map<string, Uint8Array>();
  for (const [keyId, entry] of Object.entries((response.verify_keys ?? {}) as Record<string, { key?: unknown }>)) {
    const key = keyId.startsWith('ed25519:') && typeof entry?.key === 'string' ? decodeBase64(entry.key) : null;
    if (key?.length === ED25519_KEY_BYTES) keys.set(keyId, key);
  }
  const signedWith = Object.keys((response.signatures as Record<string, Record<string, unknown>> | undefined)?.[origin] ?? {}).filter((keyId) => keys.has(keyId));
  if (signedWith.length === 0) throw new Error('the key response is not signed by its own keys');
  for (const keyId of signedWith) {
    if (!verifyJsonSignature(response, origin, keyId, keys.get(keyId)!)) throw new Error(`the key response's signature by ${keyId} is invalid`);
  }
  return { keys, validUntil };
}
