/**
 * Members' ed25519 keys for signed pushes: pinned in the configuration, or fetched from the
 * member's own identity server (GET <url>/_matrix/identity/v2/pubkey/<key id>, the keys plugin's
 * route) and cached. The URL is the operator's, never the request's, so a stranger cannot make
 * the hub fetch anything: an unknown origin was refused before. A key id the cache lacks is
 * fetched at most once a minute per member, concurrent pushes sharing one fetch.
 */
import type { FastifyBaseLogger } from 'fastify';
import { unauthorized } from '../../core/errors.js';
import { decodeBase64 } from '../../core/crypto/base64.js';
import { SingleFlight } from '../../core/federation/cache.js';
import type { PublicKeySource } from '../../core/federation/x-matrix.js';
import type { MemberConfig } from './config.js';

/** A fetched key is used this long before it is fetched again (the member may have revoked it). */
const KEY_LIFETIME = 3_600_000;
const REFETCH_INTERVAL = 60_000;
const FETCH_TIMEOUT = 10_000;
const MAX_KEY_RESPONSE = 4096;

interface Fetched { key: Uint8Array; fetchedAt: number }

export class MemberKeys implements PublicKeySource {
  private readonly pinned = new Map<string, Uint8Array>();
  private readonly urls = new Map<string, string>();
  private readonly cache = new Map<string, Fetched>();
  private readonly lastAttempt = new Map<string, number>();
  private readonly fetching = new SingleFlight<Uint8Array | null>();

  constructor(members: readonly MemberConfig[], private readonly log: FastifyBaseLogger) {
    for (const member of members) {
      if (member.publicKey !== undefined) this.pinned.set(member.server, decodeBase64(member.publicKey)!);
      else if (member.url !== undefined) this.urls.set(member.server, member.url.replace(/\/+$/, ''));
    }
  }

  /** The key `keyId` of member `origin` (a pinned key answers any key id); a 401 otherwise. */
  async publicKey(origin: string, keyId: string): Promise<Uint8Array> {
    const pinned = this.pinned.get(origin);
    if (pinned) return pinned;
    const url = this.urls.get(origin);
    if (url === undefined) throw unauthorized(`${origin} does not push with signatures here`);
    const cacheKey = `${origin} ${keyId}`;
    const now = Date.now();
    const cached = this.cache.get(cacheKey);
    if (cached && now - cached.fetchedAt < KEY_LIFETIME) return cached.key;
    if (now - (this.lastAttempt.get(origin) ?? 0) < REFETCH_INTERVAL) {
      if (cached) return cached.key;
      throw unauthorized(`${origin} has no key ${keyId}`);
    }
    const key = await this.fetching.run(cacheKey, async () => {
      this.lastAttempt.set(origin, Date.now());
      const fetched = await this.fetch(origin, url, keyId);
      if (fetched) this.cache.set(cacheKey, { key: fetched, fetchedAt: Date.now() });
      return fetched;
    });
    if (key) return key;
    if (cached) return cached.key; // the member is unreachable: its last known key still serves
    throw unauthorized(`${origin} has no key ${keyId}`);
  }

  private async fetch(origin: string, url: string, keyId: string): Promise<Uint8Array | null> {
    try {
      const response = await fetch(`${url}/_matrix/identity/v2/pubkey/${encodeURIComponent(keyId)}`, {
        redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT),
      });
      const text = await response.text();
      if (response.status !== 200 || text.length > MAX_KEY_RESPONSE) throw new Error(`it answered ${response.status}`);
      const publicKey = (JSON.parse(text) as { public_key?: unknown }).public_key;
      const key = typeof publicKey === 'string' ? decodeBase64(publicKey) : null;
      if (key?.length !== 32) throw new Error('its answer holds no ed25519 public key');
      return key;
    } catch (err) {
      this.log.warn({ member: origin, keyId, err: (err as Error).message }, 'fetching a member\'s signing key failed');
      return null;
    }
  }
}
