/**
 * Homeservers' signing keys, fetched from /_matrix/key/v2/server through the federation client
 * and cached until valid_until_ts (at most 7 days, as the spec caps it). A response counts only
 * when it names the origin and is signed by the origin with the keys it lists. An origin is
 * asked again at most once a minute, and concurrent requests share one fetch, so unknown key ids
 * or a burst of signed requests cannot make unisd flood a server.
 */
import { FederationError, type Federation } from './types.js';
import { MatrixError, unauthorized } from '../errors.js';
import { decodeBase64 } from '../crypto/base64.js';
import { verifyJsonSignature } from '../crypto/signing.js';
import { SingleFlight, setBounded } from './single-flight.js';

const MAX_KEY_LIFETIME = 7 * 24 * 3_600_000;
const REFETCH_INTERVAL = 60_000;
const MAX_CACHED_ORIGINS = 1_000;
const ED25519_KEY_BYTES = 32;

interface CachedKeys {
  keys: Map<string, Uint8Array>;
  expiresAt: number;
  fetchedAt: number;
  /** Why the last fetch failed, answered until the next one. */
  problem: { status: 401 | 403; message: string } | null;
}

export class ServerKeys {
  private readonly cache = new Map<string, CachedKeys>();
  private readonly fetching = new SingleFlight<CachedKeys>();

  constructor(private readonly federation: Federation) {}

  /** The public key `keyId` of `origin`; throws a 401 (403 when the origin's address is refused) MatrixError otherwise. */
  async publicKey(origin: string, keyId: string): Promise<Uint8Array> {
    const now = Date.now();
    let entry = this.cache.get(origin);
    const known = entry && entry.expiresAt > now && entry.keys.has(keyId);
    if (!entry || (!known && now - entry.fetchedAt >= REFETCH_INTERVAL)) entry = await this.refresh(origin, now);
    const key = entry.expiresAt > now ? entry.keys.get(keyId) : undefined;
    if (key) return key;
    if (entry.problem) throw new MatrixError(entry.problem.status, entry.problem.status === 403 ? 'M_FORBIDDEN' : 'M_UNAUTHORIZED', entry.problem.message);
    throw unauthorized(`${origin} has no current key ${keyId}`);
  }

  /** Fetches and caches the keys of `origin`, joining a fetch already under way. */
  private refresh(origin: string, now: number): Promise<CachedKeys> {
    return this.fetching.run(origin, async () => {
      const entry = await this.fetch(origin, now);
      setBounded(this.cache, origin, entry, MAX_CACHED_ORIGINS);
      return entry;
    });
  }

  /** Never rejects: a failure is kept in the entry's `problem`. */
  private async fetch(origin: string, now: number): Promise<CachedKeys> {
    try {
      const response = await this.federation.request(origin, { method: 'GET', path: '/_matrix/key/v2/server' });
      const { keys, validUntil } = verifiedKeys(origin, response.status, response.json, now);
      return { keys, expiresAt: Math.min(validUntil, now + MAX_KEY_LIFETIME), fetchedAt: now, problem: null };
    } catch (err) {
      const message = `Could not get the keys of ${origin}: ${(err as Error).message}`;
      const status = err instanceof FederationError && err.reason === 'forbidden-address' ? 403 : 401;
      return { keys: new Map(), expiresAt: 0, fetchedAt: now, problem: { status, message } };
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
