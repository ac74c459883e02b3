/** Accepted terms in SQLite. */
import type { AcceptedPolicy, TermsStore } from '../ports/terms.js';
import type { SqliteDb } from './db.js';

export class SqliteTerms implements TermsStore {
  constructor(private readonly db: SqliteDb) {}

  async accept(userId: string, policies: AcceptedPolicy[]): Promise<void> {
    const insert = this.db.prepared('INSERT OR IGNORE INTO accepted_policies (user_id, policy, version) VALUES (?, ?, ?)');
    this.db.transaction(() => { for (const p of policies) insert.run(userId, p.policy, p.version); });
  }

  async accepted(userId: string): Promise<AcceptedPolicy[]> {
    return this.db.prepared('SELECT policy, version FROM accepted_policies WHERE user_id = ? ORDER BY policy, version').all(userId) as AcceptedPolicy[];
  }
}
