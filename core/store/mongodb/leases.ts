/**
 * Leases in MongoDB: one document per lease. Taking one is a single conditional upsert that
 * matches only an expired or own document; when another holder's live document is there, the
 * upsert's insert collides on _id and the lease is refused.
 */
import type { Collection, Db } from 'mongodb';
import type { LeaseStore } from '../ports/leases.js';
import { integer, isDuplicateKey, text } from './values.js';

interface LeaseDoc { _id: string; holder: string; expiresAt: number }

export class MongoLeases implements LeaseStore {
  private readonly leases: Collection<LeaseDoc>;

  constructor(db: Db) {
    this.leases = db.collection('leases');
  }

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const who = text(holder, 'holder');
    const at = integer(now, 'now');
    try {
      const doc = await this.leases.findOneAndUpdate(
        { _id: text(name, 'name'), $or: [{ holder: who }, { expiresAt: { $lte: at } }] },
        { $set: { holder: who, expiresAt: at + integer(ttlMs, 'ttlMs') } },
        { upsert: true, returnDocument: 'after' },
      );
      return doc?.holder === who;
    } catch (error) {
      if (isDuplicateKey(error)) return false; // held by another, unexpired
      throw error;
    }
  }

  async release(name: string, holder: string): Promise<void> {
    await this.leases.deleteOne({ _id: text(name, 'name'), holder: text(holder, 'holder') });
  }
}
