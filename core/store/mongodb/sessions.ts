/** Validation sessions in MongoDB. */
import type { Collection, Db } from 'mongodb';
import type { Medium } from '../ports/threepid.js';
import type { SessionChanges, SessionStore, ValidationSession } from '../ports/sessions.js';
import { integer, optionalInteger, optionalText, text } from './values.js';

interface SessionDoc {
  _id: string; medium: string; address: string; clientSecret: string; tokenHash: string; sendAttempt: number;
  nextLink: string | null; createdAt: number; updatedAt: number; validatedAt: number | null;
}

const toSession = (d: SessionDoc): ValidationSession => ({
  sid: d._id, medium: d.medium, address: d.address, clientSecret: d.clientSecret, tokenHash: d.tokenHash, sendAttempt: d.sendAttempt,
  nextLink: d.nextLink, createdAt: d.createdAt, updatedAt: d.updatedAt, validatedAt: d.validatedAt,
});

export class MongoSessions implements SessionStore {
  private readonly sessions: Collection<SessionDoc>;

  constructor(db: Db) {
    this.sessions = db.collection('sessions');
  }

  async init(): Promise<void> {
    await this.sessions.createIndexes([
      { key: { medium: 1, address: 1, clientSecret: 1 }, name: 'threepid_secret', unique: true },
      { key: { updatedAt: 1 }, name: 'updated' },
    ]);
  }

  async create(s: ValidationSession): Promise<void> {
    await this.sessions.insertOne({
      _id: text(s.sid, 'sid'), medium: text(s.medium, 'medium'), address: text(s.address, 'address'),
      clientSecret: text(s.clientSecret, 'clientSecret'), tokenHash: text(s.tokenHash, 'tokenHash'), sendAttempt: integer(s.sendAttempt, 'sendAttempt'),
      nextLink: optionalText(s.nextLink, 'nextLink'), createdAt: integer(s.createdAt, 'createdAt'), updatedAt: integer(s.updatedAt, 'updatedAt'),
      validatedAt: optionalInteger(s.validatedAt, 'validatedAt'),
    });
  }

  async get(sid: string): Promise<ValidationSession | null> {
    const doc = await this.sessions.findOne({ _id: text(sid, 'sid') });
    return doc ? toSession(doc) : null;
  }

  async find(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null> {
    const doc = await this.sessions.findOne({
      medium: text(medium, 'medium'), address: text(address, 'address'), clientSecret: text(clientSecret, 'clientSecret'),
    });
    return doc ? toSession(doc) : null;
  }

  async update(sid: string, changes: SessionChanges): Promise<void> {
    const set: Partial<SessionDoc> = {};
    if (changes.tokenHash !== undefined) set.tokenHash = text(changes.tokenHash, 'tokenHash');
    if (changes.sendAttempt !== undefined) set.sendAttempt = integer(changes.sendAttempt, 'sendAttempt');
    if (changes.nextLink !== undefined) set.nextLink = optionalText(changes.nextLink, 'nextLink');
    if (changes.updatedAt !== undefined) set.updatedAt = integer(changes.updatedAt, 'updatedAt');
    if (changes.validatedAt !== undefined) set.validatedAt = optionalInteger(changes.validatedAt, 'validatedAt');
    if (Object.keys(set).length === 0) return;
    await this.sessions.updateOne({ _id: text(sid, 'sid') }, { $set: set });
  }

  async delete(sid: string): Promise<void> {
    await this.sessions.deleteOne({ _id: text(sid, 'sid') });
  }

  async deleteFor(medium: Medium, address: string): Promise<number> {
    return (await this.sessions.deleteMany({ medium: text(medium, 'medium'), address: text(address, 'address') })).deletedCount;
  }

  async deleteBefore(before: number): Promise<number> {
    return (await this.sessions.deleteMany({ updatedAt: { $lt: integer(before, 'before') } })).deletedCount;
  }
}
