/**
 * Invitations to a 3PID not yet bound (store-invite), the ephemeral-key signing service
 * (sign-ed25519), and the signed invites handed over when the 3PID gets bound.
 */
import type { InviteStore, ThreePid } from '../../core/store/port.js';
import type { ProviderRegistry } from '../../core/providers/registry.js';
import type { Mailer } from '../email/types.js';
import { badRequest, forbidden, invalidParam, notFound } from '../../core/errors.js';
import { normaliseEmail } from '../../core/threepid.js';
import { randomToken } from '../../core/crypto/tokens.js';
import { decodeBase64, encodeBase64 } from '../../core/crypto/base64.js';
import { generateSigningKey, signJson, signingKeyFromSeed, type SigningKey, type Signed } from '../../core/crypto/signing.js';
import { requireUserId } from '../../core/federation/server-name.js';
import { RateLimiter, throwIfLimited } from '../../core/rate-limit.js';
import type { LimitStore } from '../../core/limit-stores/store.js';
import type { Metrics } from '../../core/metrics.js';

/** The store-invite request: the four required fields, and whatever else the homeserver sends (room name, avatars…). */
export interface InviteRequest {
  medium: string;
  address: string;
  room_id: string;
  sender: string;
  [field: string]: unknown;
}

export interface PublicKeyRef {
  public_key: string;
  key_validity_url: string;
}

export interface StoredInviteAnswer {
  token: string;
  public_keys: PublicKeyRef[];
  public_key: string;
  display_name: string;
}

/** One invite as the bind answer and 3pid/onbind carry it. */
export interface BoundInvite extends ThreePid {
  mxid: string;
  room_id: string;
  sender: string;
  signed: Signed<{ mxid: string; token: string }>;
}

export interface InviteOptions {
  serverName: string;
  /** Base URL of the served identity API (…/_matrix/identity/v2 when v2 is on), for key_validity_url. */
  apiBaseUrl: string;
  /** ms an invite and its ephemeral key stay pending. */
  lifetime: number;
  rateLimit: { perAddress: number; perInviter: number; window: number };
  metrics?: Metrics;
  /** Where the limits are counted (rateLimit.store). */
  limitStore?: LimitStore;
}

/**
 * A redacted address for the room's invite event (`alice@example.com` → `ali...@exa...`):
 * enough for people who know the address to recognise it, not enough to harvest it.
 */
export function redactEmail(address: string): string {
  const at = address.lastIndexOf('@');
  const part = (text: string): string => {
    const chars = Array.from(text);
    return `${chars.slice(0, chars.length > 3 ? 3 : 1).join('')}...`;
  };
  return at < 0 ? part(address) : `${part(address.slice(0, at))}@${part(address.slice(at + 1))}`;
}

/**
 * The ephemeral private key as mailed and as sign-ed25519 takes it: unpadded base64 of the
 * 32-byte seed (what sydent's clients send). A 64-byte tweetnacl secret key is read as its seed.
 */
export const encodePrivateKey = (key: SigningKey): string => encodeBase64(key.secretKey.subarray(0, 32));

function decodePrivateKey(text: string): SigningKey | null {
  const bytes = decodeBase64(text);
  if (!bytes || (bytes.length !== 32 && bytes.length !== 64)) return null;
  const key = signingKeyFromSeed(bytes.subarray(0, 32));
  // A 64-byte key carries its public half: it must be the one the seed gives.
  if (bytes.length === 64 && encodeBase64(bytes.subarray(32)) !== key.publicKeyBase64) return null;
  return key;
}

/** The request's fields the spec defines to describe an invitation: the only ones stored (as text). */
const DISPLAY_FIELDS = ['room_alias', 'room_avatar_url', 'room_join_rules', 'room_name', 'room_type', 'sender_display_name', 'sender_avatar_url'];

export const displayFields = (request: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(DISPLAY_FIELDS.flatMap((name) => (typeof request[name] === 'string' ? [[name, request[name]]] : [])));

/** Every string field of the request, for the mail template, under its own name. */
const stringFields = (fields: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));

export class InviteService {
  constructor(
    private readonly store: InviteStore,
    private readonly providers: ProviderRegistry,
    private readonly mailer: Mailer,
    private readonly signingKey: SigningKey,
    private readonly options: InviteOptions,
  ) {
    const { perAddress, perInviter, window } = options.rateLimit;
    this.perAddress = new RateLimiter(perAddress, window, { name: 'invites.rateLimit.perAddress', metrics: options.metrics, store: options.limitStore });
    this.perInviter = new RateLimiter(perInviter, window, { name: 'invites.rateLimit.perInviter', metrics: options.metrics, store: options.limitStore });
  }

  // The mail carries text the inviter chose: without limits store-invite is a mail relay.
  private readonly perAddress: RateLimiter;
  private readonly perInviter: RateLimiter;

  /**
   * Stores an invitation and mails it. `requester` is the v2 token's user (null on v1): only
   * that user may invite as `sender`. `inviterKey` is who the rate limit counts (the user, or the
   * client's network on v1). When the mail cannot be sent, the invitation is removed again.
   */
  async storeInvite(request: InviteRequest, requester: string | null, inviterKey: string): Promise<StoredInviteAnswer> {
    if (request.medium !== 'email') throw badRequest('M_UNRECOGNIZED', 'Invitations can only be sent to email addresses');
    const address = normaliseEmail(request.address);
    if (address === null) throw badRequest('M_INVALID_EMAIL', 'The address is not a valid email address');
    if (requester !== null && request.sender !== requester) throw forbidden('M_UNAUTHORIZED', 'The sender must be the user of the access token');
    // Counted before the lookup: the "already bound" answer names the owner, so unthrottled it would be a free lookup.
    throwIfLimited(Math.max(await this.perInviter.retryAfter(inviterKey), await this.perAddress.retryAfter(address)));
    await this.perInviter.record(inviterKey);
    const bound = await this.providers.lookup({ medium: 'email', address });
    if (bound) throw badRequest('M_THREEPID_IN_USE', 'This address is already bound to a Matrix user', { mxid: bound.mxid });
    await this.perAddress.record(address);

    // Stored before the mail goes out, so a mailed token always exists; removed if the mail fails.
    // (An ephemeral key left behind then is harmless: its private half was never sent.)
    const token = randomToken(32);
    const ephemeral = generateSigningKey();
    const displayName = redactEmail(address);
    const now = Date.now();
    const expiresAt = now + this.options.lifetime;
    await this.store.putEphemeralKey(ephemeral.publicKeyBase64, expiresAt);
    await this.store.put({
      token, medium: 'email', address, roomId: request.room_id, sender: request.sender, fields: displayFields(request),
      ephemeralPublicKey: ephemeral.publicKeyBase64, createdAt: now, expiresAt, deliveredAt: null,
    });
    try {
      await this.mailer.send('invite', address, {
        ...stringFields(request),
        room_name: stringOr(request.room_name, stringOr(request.room_alias, request.room_id)),
        sender_display_name: stringOr(request.sender_display_name, request.sender),
        display_name: displayName,
        token,
        ephemeral_private_key: encodePrivateKey(ephemeral),
      });
    } catch (err) {
      await this.store.delete(token);
      throw err;
    }
    return {
      token,
      public_keys: [
        { public_key: this.signingKey.publicKeyBase64, key_validity_url: `${this.options.apiBaseUrl}/pubkey/isvalid` },
        { public_key: ephemeral.publicKeyBase64, key_validity_url: `${this.options.apiBaseUrl}/pubkey/ephemeral/isvalid` },
      ],
      public_key: this.signingKey.publicKeyBase64,
      display_name: displayName,
    };
  }

  /** sign-ed25519: {mxid, sender, token} signed with the caller's (ephemeral) private key. */
  async signWithEphemeralKey(mxid: string, token: string, privateKey: string): Promise<Signed<{ mxid: string; sender: string; token: string }>> {
    requireUserId(mxid);
    const key = decodePrivateKey(privateKey);
    if (!key) throw invalidParam('private_key must be an unpadded base64 ed25519 private key');
    const invite = await this.store.get(token);
    if (!invite || invite.expiresAt <= Date.now()) throw notFound('M_UNRECOGNIZED', "Didn't recognize token");
    return signJson({ mxid, sender: invite.sender, token }, this.options.serverName, key);
  }

  /** The invites pending for `threepid`, each signed for `mxid` with the long-term key (what the homeserver verifies). */
  async invitesFor(threepid: ThreePid, mxid: string): Promise<BoundInvite[]> {
    const pending = await this.store.find(threepid.medium, threepid.address, Date.now());
    return pending.map((invite) => ({
      medium: invite.medium,
      address: invite.address,
      mxid,
      room_id: invite.roomId,
      sender: invite.sender,
      signed: signJson({ mxid, token: invite.token }, this.options.serverName, this.signingKey),
    }));
  }

  /** Invites a homeserver accepted are no longer pending (sign-ed25519 still finds them until they expire). */
  async delivered(invites: BoundInvite[]): Promise<void> {
    await this.store.markDelivered(invites.map((invite) => invite.signed.token), Date.now());
  }

  purgeExpired(): Promise<number> {
    return this.store.deleteBefore(Date.now());
  }

  /** Forgets addresses and inviters whose budget is full again. */
  async sweepLimits(): Promise<void> {
    await this.perAddress.sweep();
    await this.perInviter.sweep();
  }
}

const stringOr = (value: unknown, fallback: string): string => (typeof value === 'string' && value !== '' ? value : fallback);
