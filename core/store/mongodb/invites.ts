/** Pending invites and ephemeral keys in MongoDB. */
import type { Collection, Db } from 'mongodb';
import type { Medium } from '../ports/threepid.js';
import type { InviteFilter, InviteStore, PendingInvite } from '../ports/invites.js';
import { chunks, integer, optionalInteger, text, texts, withUpsertRetry } from './values.js';

interface InviteDoc {
  _id: string; medium: string; address: string; roomId: string; sender: string; fieldsJson: string;
  ephemeralPublicKey: string; createdAt: number; expiresAt: number; deliveredAt: number | null;
}
interface EphemeralKeyDoc { _id: string; expiresAt: number }

const toInvite = (d: InviteDoc): PendingInvite => ({
  token: d._id, medium: d.medium, address: d.address, roomId: d.roomId, sender: d.sender, fields: JSON.parse(d.fieldsJson),
  ephemeralPublicKey: d.ephemeralPublicKey, createdAt: d.createdAt, expiresAt: d.expiresAt, deliveredAt: d.deliveredAt,
});

/** The query of an InviteFilter: checked strings only. */
function matching(filter: InviteFilter): Partial<Pick<InviteDoc, 'medium' | 'address' | 'sender'>> {
  return {
    ...(filter.threepid ? { medium: text(filter.threepid.medium, 'medium'), address: text(filter.threepid.address, 'address') } : {}),
    ...(filter.sender !== undefined ? { sender: text(filter.sender, 'sender') } : {}),
  };
}

export class MongoInvites implements InviteStore {
  private readonly invites: Collection<InviteDoc>;
  private readonly ephemeralKeys: Collection<EphemeralKeyDoc>;

  constructor(db: Db) {
    this.invites = db.collection('invites');
    this.ephemeralKeys = db.collection('ephemeral_keys');
  }

  async init(): Promise<void> {
    await this.invites.createIndexes([
      { key: { medium: 1, address: 1, expiresAt: 1 }, name: 'threepid_expiry' },
      { key: { expiresAt: 1 }, name: 'expiry' },
      { key: { sender: 1 }, name: 'sender' },
    ]);
    await this.ephemeralKeys.createIndexes([{ key: { expiresAt: 1 }, name: 'expiry' }]);
  }

  async put(i: PendingInvite): Promise<void> {
    await this.invites.insertOne({
      _id: text(i.token, 'token'), medium: text(i.medium, 'medium'), address: text(i.address, 'address'), roomId: text(i.roomId, 'roomId'),
      sender: text(i.sender, 'sender'), fieldsJson: JSON.stringify(i.fields), ephemeralPublicKey: text(i.ephemeralPublicKey, 'ephemeralPublicKey'),
      createdAt: integer(i.createdAt, 'createdAt'), expiresAt: integer(i.expiresAt, 'expiresAt'),
      deliveredAt: optionalInteger(i.deliveredAt, 'deliveredAt'),
    });
  }

  async get(token: string): Promise<PendingInvite | null> {
    const doc = await this.invites.findOne({ _id: text(token, 'token') });
    return doc ? toInvite(doc) : null;
  }

  async find(medium: Medium, address: string, now: number): Promise<PendingInvite[]> {
    const docs = await this.invites
      .find({ medium: text(medium, 'medium'), address: text(address, 'address'), expiresAt: { $gt: integer(now, 'now') }, deliveredAt: null })
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    return docs.map(toInvite);
  }

  async list(filter: InviteFilter, limit: number): Promise<PendingInvite[]> {
    const max = integer(limit, 'limit');
    if (max <= 0) return []; // limit(0) would mean no limit
    const docs = await this.invites.find(matching(filter)).sort({ createdAt: 1, _id: 1 }).limit(max).toArray();
    return docs.map(toInvite);
  }

  async deleteMatching(filter: InviteFilter): Promise<number> {
    const query = matching(filter);
    if (Object.keys(query).length === 0) throw new Error('deleteMatching needs a 3PID or a sender');
    return (await this.invites.deleteMany(query)).deletedCount;
  }

  async delete(token: string): Promise<void> {
    await this.invites.deleteOne({ _id: text(token, 'token') });
  }

  async markDelivered(tokens: string[], at: number): Promise<void> {
    const deliveredAt = integer(at, 'at');
    for (const chunk of chunks(texts(tokens, 'token'))) await this.invites.updateMany({ _id: { $in: chunk } }, { $set: { deliveredAt } });
  }

  async deleteBefore(expiresBefore: number): Promise<number> {
    const before = integer(expiresBefore, 'expiresBefore');
    await this.ephemeralKeys.deleteMany({ expiresAt: { $lt: before } });
    return (await this.invites.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
  }

  async putEphemeralKey(publicKey: string, expiresAt: number): Promise<void> {
    await withUpsertRetry(() => this.ephemeralKeys.updateOne(
      { _id: text(publicKey, 'publicKey') }, { $set: { expiresAt: integer(expiresAt, 'expiresAt') } }, { upsert: true },
    ));
  }

  async isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean> {
    const doc = await this.ephemeralKeys.findOne({ _id: text(publicKey, 'publicKey'), expiresAt: { $gt: integer(now, 'now') } });
    return doc !== null;
  }
}
