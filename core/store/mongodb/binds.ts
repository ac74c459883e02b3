/** Binds (associations) in MongoDB. */
import type { Collection, Db } from 'mongodb';
import type { Medium, ThreePid } from '../ports/threepid.js';
import type { Association, BindStore } from '../ports/binds.js';
import { chunks, integer, onlyDuplicates, text, withUpsertRetry } from './values.js';

interface AssociationDoc {
  medium: string; address: string; mxid: string; ts: number; notBefore: number; notAfter: number; signedJson: string;
}

const toAssociation = (d: AssociationDoc): Association => ({
  medium: d.medium, address: d.address, mxid: d.mxid, ts: d.ts, notBefore: d.notBefore, notAfter: d.notAfter, signed: JSON.parse(d.signedJson),
});

const toDoc = (a: Association): AssociationDoc => ({
  medium: text(a.medium, 'medium'), address: text(a.address, 'address'), mxid: text(a.mxid, 'mxid'), ts: integer(a.ts, 'ts'),
  notBefore: integer(a.notBefore, 'notBefore'), notAfter: integer(a.notAfter, 'notAfter'), signedJson: JSON.stringify(a.signed),
});

export class MongoBinds implements BindStore {
  private readonly associations: Collection<AssociationDoc>;

  constructor(db: Db) {
    this.associations = db.collection('associations');
  }

  async init(): Promise<void> {
    await this.associations.createIndexes([{ key: { medium: 1, address: 1 }, name: 'threepid', unique: true }, { key: { mxid: 1 }, name: 'mxid' }]);
  }

  async put(a: Association): Promise<void> {
    const doc = toDoc(a);
    await withUpsertRetry(() => this.associations.replaceOne({ medium: doc.medium, address: doc.address }, doc, { upsert: true }));
  }

  async putMany(associations: Association[]): Promise<void> {
    if (associations.length === 0) return;
    const replacements = associations.map(toDoc).map((doc) => ({ replaceOne: { filter: { medium: doc.medium, address: doc.address }, replacement: doc, upsert: true } }));
    for (const chunk of chunks(replacements)) {
      // Unordered: one round trip per chunk. Upserts racing others on the unique key fail as
      // duplicates; run again (replacements, so harmlessly) they match the winners, as in put.
      try {
        await this.associations.bulkWrite(chunk, { ordered: false });
      } catch (error) {
        if (!onlyDuplicates(error)) throw error;
        await this.associations.bulkWrite(chunk, { ordered: false });
      }
    }
  }

  async get(medium: Medium, address: string): Promise<Association | null> {
    const doc = await this.associations.findOne({ medium: text(medium, 'medium'), address: text(address, 'address') });
    return doc ? toAssociation(doc) : null;
  }

  async getMany(threepids: ThreePid[]): Promise<Association[]> {
    // One $in per medium (in practice: email, msisdn) rather than an $or of every pair.
    const byMedium = new Map<string, Set<string>>();
    for (const t of threepids) {
      const medium = text(t.medium, 'medium');
      const addresses = byMedium.get(medium) ?? new Set<string>();
      addresses.add(text(t.address, 'address'));
      byMedium.set(medium, addresses);
    }
    const out: Association[] = [];
    for (const [medium, addresses] of byMedium) {
      for (const chunk of chunks([...addresses])) {
        const docs = await this.associations.find({ medium, address: { $in: chunk } }).toArray();
        out.push(...docs.map(toAssociation));
      }
    }
    return out;
  }

  async delete(medium: Medium, address: string, mxid: string): Promise<boolean> {
    const result = await this.associations.deleteOne({ medium: text(medium, 'medium'), address: text(address, 'address'), mxid: text(mxid, 'mxid') });
    return result.deletedCount > 0;
  }

  async byMxid(mxid: string): Promise<Association[]> {
    const docs = await this.associations.find({ mxid: text(mxid, 'mxid') }).sort({ medium: 1, address: 1 }).toArray();
    return docs.map(toAssociation);
  }

  async *stream(): AsyncIterable<Association> {
    // Leaving the loop early closes the cursor (for await calls its return()).
    for await (const doc of this.associations.find({}, { batchSize: 1000 })) yield toAssociation(doc);
  }
}
