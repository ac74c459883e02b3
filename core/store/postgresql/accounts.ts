/** Identity access tokens in PostgreSQL. */
import type { AccountToken, AccountTokenStore } from '../ports/accounts.js';
import type { PgDb, Row } from './db.js';

const toToken = (r: Row): AccountToken => ({ tokenHash: r.token_hash, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at });

export class PgAccountTokens implements AccountTokenStore {
  constructor(private readonly db: PgDb) {}

  async put(t: AccountToken): Promise<void> {
    await this.db.run('INSERT INTO account_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [t.tokenHash, t.userId, t.createdAt, t.expiresAt]);
  }

  async get(tokenHash: string): Promise<AccountToken | null> {
    const [row] = await this.db.query('SELECT token_hash, user_id, created_at, expires_at FROM account_tokens WHERE token_hash = $1', [tokenHash]);
    return row ? toToken(row) : null;
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.run('DELETE FROM account_tokens WHERE token_hash = $1', [tokenHash]);
  }

  async deleteBefore(expiresBefore: number): Promise<number> {
    return this.db.run('DELETE FROM account_tokens WHERE expires_at IS NOT NULL AND expires_at < $1', [expiresBefore]);
  }

  async deleteOldest(userId: string, keep: number): Promise<number> {
    return this.db.run(`DELETE FROM account_tokens WHERE token_hash IN (
      SELECT token_hash FROM account_tokens WHERE user_id = $1 ORDER BY created_at DESC, seq DESC OFFSET $2)`, [userId, keep]);
  }
}
