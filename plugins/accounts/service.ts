/** Identity access tokens: issued after an OpenID check, stored hashed, optionally expiring. */
import type { Account } from '../../core/api.js';
import type { Store } from '../../core/store/port.js';
import { hashSecret, randomToken } from '../../core/crypto/tokens.js';

export class AccountService {
  constructor(private readonly store: Store, private readonly tokenLifetime: number) {}

  async authenticate(token: string): Promise<Account | null> {
    const tokenHash = hashSecret(token);
    const stored = await this.store.getAccountToken(tokenHash);
    if (!stored || (stored.expiresAt !== null && stored.expiresAt <= Date.now())) return null;
    return { userId: stored.userId, tokenHash };
  }

  /** A new token for `userId`; only its hash is stored. */
  async issue(userId: string): Promise<string> {
    const token = randomToken(32);
    const now = Date.now();
    await this.store.putAccountToken({ tokenHash: hashSecret(token), userId, createdAt: now, expiresAt: this.tokenLifetime > 0 ? now + this.tokenLifetime : null });
    return token;
  }

  async logout(account: Account): Promise<void> {
    await this.store.deleteAccountToken(account.tokenHash);
  }
}
