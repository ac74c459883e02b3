/** Identity access tokens in MongoDB. */
import type { Collection, Db } from 'mongodb';
import type { AccountToken, AccountTokenStore } from '../ports/accounts.js';
import { integer, optionalInteger, text } from './values.js';

interface AccountTokenDoc { _id: string; userId: string; createdAt: number; expiresAt: number | null }

export class MongoAccountTokens implements AccountTokenStore {
  private readonly tokens: Collection<AccountTokenDoc>;

  constructor(db: Db) {
    this.tokens = db.collection('account_tokens');
  }

  async init(): Promise<void> {
    await this.tokens.createIndexes([{ key: { expiresAt: 1 }, name: 'expiry' }, { key: { userId: 1, createdAt: -1 }, name: 'user_created' }]);
  }

  async put(t: AccountToken): Promise<void> {
    await this.tokens.insertOne({
      _id: text(t.tokenHash, 'tokenHash'), userId: text(t.userId, 'userId'), createdAt: integer(t.createdAt, 'createdAt'),
      expiresAt: optionalInteger(t.expiresAt, 'expiresAt'),
    });
  }

  async get(tokenHash: string): Promise<AccountToken | null> {
    const doc = await this.tokens.findOne({ _id: text(tokenHash, 'tokenHash') });
    return doc ? { tokenHash: doc._id, userId: doc.userId, createdAt: doc.createdAt, expiresAt: doc.expiresAt } : null;
  }

  async delete(tokenHash: string): Promise<void> {
    await this.tokens.deleteOne({ _id: text(tokenHash, 'tokenHash') });
  }

  async deleteBefore(expiresBefore: number): Promise<number> {
    // $lt on a number never matches null (comparisons stay within one BSON type): tokens without expiry stay.
    return (await this.tokens.deleteMany({ expiresAt: { $lt: integer(expiresBefore, 'expiresBefore') } })).deletedCount;
  }

  async byUser(userId: string): Promise<AccountToken[]> {
    const docs = await this.tokens.find({ userId: text(userId, 'userId') }).sort({ createdAt: -1, _id: -1 }).toArray();
    return docs.map((doc) => ({ tokenHash: doc._id, userId: doc.userId, createdAt: doc.createdAt, expiresAt: doc.expiresAt }));
  }

  async deleteByUser(userId: string): Promise<number> {
    return (await this.tokens.deleteMany({ userId: text(userId, 'userId') })).deletedCount;
  }

  async deleteOldest(userId: string, keep: number): Promise<number> {
    const beyond = await this.tokens.find({ userId: text(userId, 'userId') }, { projection: { _id: 1 } })
      .sort({ createdAt: -1, _id: -1 }).skip(integer(keep, 'keep')).toArray();
    if (beyond.length === 0) return 0;
    return (await this.tokens.deleteMany({ _id: { $in: beyond.map((doc) => doc._id) } })).deletedCount;
  }
}
