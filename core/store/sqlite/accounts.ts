/** Identity access tokens in SQLite. */
import type { AccountToken, AccountTokenStore } from '../ports/accounts.js';
import type { Row, SqliteDb } from './db.js';

export class SqliteAccountTokens implements AccountTokenStore {
  constructor(private readonly db: SqliteDb) {}

  async put(t: AccountToken): Promise<void> {
    this.db.prepared('INSERT INTO account_tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(t.tokenHash, t.userId, t.createdAt, t.expiresAt);
  }

  async get(tokenHash: string): Promise<AccountToken | null> {
    const r = this.db.prepared('SELECT * FROM account_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r ? { tokenHash: r.token_hash, userId: r.user_id, createdAt: r.created_at, expiresAt: r.expires_at } : null;
  }

  async delete(tokenHash: string): Promise<void> {
    this.db.prepared('DELETE FROM account_tokens WHERE token_hash = ?').run(tokenHash);
  }

  async deleteBefore(expiresBefore: number): Promise<number> {
    return this.db.prepared('DELETE FROM account_tokens WHERE expires_at IS NOT NULL AND expires_at < ?').run(expiresBefore).changes;
  }

  async deleteOldest(userId: string, keep: number): Promise<number> {
    return this.db.prepared(`DELETE FROM account_tokens WHERE token_hash IN (
      SELECT token_hash FROM account_tokens WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)`).run(userId, keep).changes;
  }
}
