/** Accepted terms in MongoDB. */
import type { Collection, Db } from 'mongodb';
import type { AcceptedPolicy, TermsStore } from '../ports/terms.js';
import { insertIgnoringDuplicates, text } from './values.js';

interface AcceptedPolicyDoc { userId: string; policy: string; version: string }

export class MongoTerms implements TermsStore {
  private readonly acceptedPolicies: Collection<AcceptedPolicyDoc>;

  constructor(db: Db) {
    this.acceptedPolicies = db.collection('accepted_policies');
  }

  async init(): Promise<void> {
    await this.acceptedPolicies.createIndexes([{ key: { userId: 1, policy: 1, version: 1 }, name: 'user_policy_version', unique: true }]);
  }

  async accept(userId: string, policies: AcceptedPolicy[]): Promise<void> {
    if (policies.length === 0) return;
    const user = text(userId, 'userId');
    const docs = policies.map((p) => ({ userId: user, policy: text(p.policy, 'policy'), version: text(p.version, 'version') }));
    await insertIgnoringDuplicates(() => this.acceptedPolicies.insertMany(docs, { ordered: false }));
  }

  async accepted(userId: string): Promise<AcceptedPolicy[]> {
    const docs = await this.acceptedPolicies.find({ userId: text(userId, 'userId') }).sort({ policy: 1, version: 1 }).toArray();
    return docs.map((d) => ({ policy: d.policy, version: d.version }));
  }

  async forget(userId: string): Promise<number> {
    return (await this.acceptedPolicies.deleteMany({ userId: text(userId, 'userId') })).deletedCount;
  }
}
