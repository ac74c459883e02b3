/** Storage of pending invites (/store-invite) and the ephemeral keys handed out with them. */
import type { Medium, ThreePid } from './threepid.js';

export interface PendingInvite extends ThreePid {
  /** The invite token (public: it appears in room state). */
  token: string;
  roomId: string;
  sender: string;
  /** The spec's display fields of the store-invite request (room_name, sender_display_name…), never the whole body. */
  fields: Record<string, unknown>;
  ephemeralPublicKey: string;
  createdAt: number;
  expiresAt: number;
  /**
   * When a homeserver accepted it through 3pid/onbind; null while pending. A delivered invite is
   * no longer pending but stays until it expires: sign-ed25519 still needs its token.
   */
  deliveredAt: number | null;
}

/** Which stored invites an admin command means: those to a 3PID, those from a sender, or (both) those to a 3PID from a sender. */
export interface InviteFilter {
  threepid?: ThreePid;
  sender?: string;
}

export interface InviteStore {
  put(invite: PendingInvite): Promise<void>;
  get(token: string): Promise<PendingInvite | null>;
  /** The unexpired, undelivered invites for that 3PID, oldest first. */
  find(medium: Medium, address: string, now: number): Promise<PendingInvite[]>;
  /**
   * Stored invites matching `filter` (an empty filter: all), pending, delivered or expired alike,
   * oldest first (createdAt, then token), at most `limit`.
   */
  list(filter: InviteFilter, limit: number): Promise<PendingInvite[]>;
  /** Deletes every stored invite matching `filter`, which must name a 3PID or a sender; returns how many. */
  deleteMatching(filter: InviteFilter): Promise<number>;
  /** Removes one invite (its mail could not be sent). */
  delete(token: string): Promise<void>;
  /** Marks these invites delivered (unknown tokens are ignored). */
  markDelivered(tokens: string[], at: number): Promise<void>;
  /** Purges expired invites (returns how many) and expired ephemeral keys. */
  deleteBefore(expiresBefore: number): Promise<number>;
  /** Stores (or re-dates) an ephemeral public key (unpadded base64). */
  putEphemeralKey(publicKey: string, expiresAt: number): Promise<void>;
  isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean>;
}
