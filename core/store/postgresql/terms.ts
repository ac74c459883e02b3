/** Accepted terms in PostgreSQL. */
import type { AcceptedPolicy, TermsStore } from '../ports/terms.js';
import type { PgDb } from './db.js';

export class PgTerms implements TermsStore {
  constructor(private readonly db: PgDb) {}

  async accept(userId: string, policies: AcceptedPolicy[]): Promise<void> {
    if (policies.length === 0) return;
    await this.db.run(`INSERT INTO accepted_policies (user_id, policy, version)
      SELECT $1, policy, version FROM unnest($2::text[], $3::text[]) AS p (policy, version) ON CONFLICT DO NOTHING`,
    [userId, policies.map((p) => p.policy), policies.map((p) => p.version)]);
  }

  async accepted(userId: string): Promise<AcceptedPolicy[]> {
    return this.db.query<AcceptedPolicy>('SELECT policy, version FROM accepted_policies WHERE user_id = $1 ORDER BY policy COLLATE "C", version COLLATE "C"', [userId]);
  }
}
