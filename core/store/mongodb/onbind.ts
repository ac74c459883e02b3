/** The 3pid/onbind delivery queue in MongoDB. */
import type { Collection, Db } from 'mongodb';
import type { OnbindDelivery, OnbindStore } from '../ports/onbind.js';
import type { ThreePid } from '../ports/threepid.js';
import { chunks, integer, isDuplicateKey, optionalText, text } from './values.js';

interface OnbindDoc {
  _id: string; destination: string; bodyJson: string; attempts: number; nextAttemptAt: number; lastError: string | null; createdAt: number;
}

const toOnbind = (d: OnbindDoc): OnbindDelivery => ({
  id: d._id, destination: d.destination, body: JSON.parse(d.bodyJson), attempts: d.attempts, nextAttemptAt: d.nextAttemptAt,
  lastError: d.lastError, createdAt: d.createdAt,
});

export class MongoOnbind implements OnbindStore {
  private readonly queue: Collection<OnbindDoc>;

  constructor(db: Db) {
    this.queue = db.collection('onbind_queue');
  }

  async init(): Promise<void> {
    await this.queue.createIndexes([{ key: { nextAttemptAt: 1, createdAt: 1, _id: 1 }, name: 'due' }]);
  }

  async enqueue(d: OnbindDelivery): Promise<void> {
    try {
      await this.queue.insertOne({
        _id: text(d.id, 'id'), destination: text(d.destination, 'destination'), bodyJson: JSON.stringify(d.body), attempts: integer(d.attempts, 'attempts'),
        nextAttemptAt: integer(d.nextAttemptAt, 'nextAttemptAt'), lastError: optionalText(d.lastError, 'lastError'), createdAt: integer(d.createdAt, 'createdAt'),
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // already queued under that id: left as it is
    }
  }

  async due(now: number, limit: number): Promise<OnbindDelivery[]> {
    const max = integer(limit, 'limit');
    if (max <= 0) return []; // limit(0) would mean no limit
    const docs = await this.queue.find({ nextAttemptAt: { $lte: integer(now, 'now') } })
      .sort({ nextAttemptAt: 1, createdAt: 1, _id: 1 })
      .limit(max)
      .toArray();
    return docs.map(toOnbind);
  }

  async claim(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]> {
    const due = integer(now, 'now');
    const lease = integer(leaseUntil, 'leaseUntil');
    const max = integer(limit, 'limit');
    const claimed: OnbindDelivery[] = [];
    // One atomic findOneAndUpdate per delivery: whichever instance updates it first owns it.
    while (claimed.length < max) {
      const doc = await this.queue.findOneAndUpdate(
        { nextAttemptAt: { $lte: due } },
        { $set: { nextAttemptAt: lease } },
        { sort: { nextAttemptAt: 1, createdAt: 1, _id: 1 }, returnDocument: 'after' },
      );
      if (!doc) break;
      claimed.push(toOnbind(doc));
    }
    return claimed;
  }

  async get(id: string): Promise<OnbindDelivery | null> {
    const doc = await this.queue.findOne({ _id: text(id, 'id') });
    return doc ? toOnbind(doc) : null;
  }

  async deleteConcerning(filter: { mxid?: string; threepid?: ThreePid }): Promise<number> {
    const mxid = filter.mxid === undefined ? undefined : text(filter.mxid, 'mxid');
    const threepid = filter.threepid && { medium: text(filter.threepid.medium, 'medium'), address: text(filter.threepid.address, 'address') };
    if (mxid === undefined && !threepid) throw new Error('deleteConcerning needs a Matrix ID or a 3PID');
    // The body is stored as JSON text (its keys are never interpreted), so it is read here: the
    // queue holds what homeservers have not accepted yet, and the cursor reads it in batches.
    const concerned: string[] = [];
    for await (const doc of this.queue.find({}, { projection: { bodyJson: 1 }, batchSize: 1000 })) {
      const body = JSON.parse(doc.bodyJson) as Record<string, unknown>;
      if ((mxid !== undefined && body.mxid === mxid) || (threepid && body.medium === threepid.medium && body.address === threepid.address)) concerned.push(doc._id);
    }
    let deleted = 0;
    for (const chunk of chunks(concerned)) deleted += (await this.queue.deleteMany({ _id: { $in: chunk } })).deletedCount;
    return deleted;
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    await this.queue.updateOne({ _id: text(id, 'id') }, {
      $set: { attempts: integer(attempts, 'attempts'), nextAttemptAt: integer(nextAttemptAt, 'nextAttemptAt'), lastError: text(lastError, 'lastError') },
    });
  }

  async delete(id: string): Promise<void> {
    await this.queue.deleteOne({ _id: text(id, 'id') });
  }

  async count(): Promise<number> {
    return this.queue.countDocuments();
  }
}
