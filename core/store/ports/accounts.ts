/** Storage of identity access tokens (as hashes). */

export interface AccountToken {
  /** hashSecret() of the access token. */
  tokenHash: string;
  userId: string;
  createdAt: number;
  /** null: never expires. */
  expiresAt: number | null;
}

export interface AccountTokenStore {
  put(token: AccountToken): Promise<void>;
  get(tokenHash: string): Promise<AccountToken | null>;
  delete(tokenHash: string): Promise<void>;
  /** Purges expired tokens; tokens with expiresAt null are never purged. */
  deleteBefore(expiresBefore: number): Promise<number>;
  /** The user's tokens (expired ones not yet purged included), newest first (createdAt, then tokenHash). */
  byUser(userId: string): Promise<AccountToken[]>;
  /** Deletes every token of the user; returns how many. */
  deleteByUser(userId: string): Promise<number>;
  /** Deletes the user's tokens but the `keep` newest (by createdAt); returns how many went. */
  deleteOldest(userId: string, keep: number): Promise<number>;
}
