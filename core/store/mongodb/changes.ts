/**
 * The change log in MongoDB. A seq is drawn from a counter document, then the record inserted
 * under it: two appenders can insert out of seq order, so a reader stops before a missing seq
 * until it is filled, or until GAP_GRACE_MS have passed since the record after it (its appender
 * died between the two writes: that seq never comes). On a replica set a change stream on the
 * collection is the wake-up hint; a standalone server has none and readers poll.
 */
import type { ChangeStream, Collection, Db } from 'mongodb';
import type { ChangeLog, ChangeRecord, StoreChange } from '../ports/changes.js';
import { integer, text } from './values.js';

interface ChangeDoc { _id: number; origin: string; changeJson: string; at: number; insertedAt: number }
interface CounterDoc { _id: string; seq: number }

/** How long a reader waits for a missing seq before taking it as never coming. */
export const GAP_GRACE_MS = 10_000;
/** Wait before reopening a change stream that failed (readers poll meanwhile). */
const REOPEN_MS = 1000;

export class MongoChanges implements ChangeLog {
  private readonly changes: Collection<ChangeDoc>;
  private readonly counters: Collection<CounterDoc>;
  private readonly watchers = new Set<() => void>();

  constructor(private readonly db: Db) {
    this.changes = db.collection('changes');
    this.counters = db.collection('counters');
  }

  async init(): Promise<void> {
    await this.changes.createIndexes([{ key: { at: 1 }, name: 'at' }]);
  }

  async append(origin: string, change: StoreChange, at: number): Promise<number> {
    const counter = await this.counters.findOneAndUpdate({ _id: 'changes' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after' });
    const seq = counter!.seq;
    await this.changes.insertOne({ _id: seq, origin: text(origin, 'origin'), changeJson: JSON.stringify(change), at: integer(at, 'at'), insertedAt: Date.now() });
    for (const wake of this.watchers) wake();
    return seq;
  }

  async readAfter(after: number, limit: number): Promise<ChangeRecord[]> {
    const max = integer(limit, 'limit');
    if (max <= 0) return [];
    const docs = await this.changes.find({ _id: { $gt: integer(after, 'after') } }).sort({ _id: 1 }).limit(max).toArray();
    const out: ChangeRecord[] = [];
    let expected = after + 1;
    for (const doc of docs) {
      // A hole: an append under way (wait for it), or one whose appender died (skip it once old).
      if (doc._id !== expected && Date.now() - doc.insertedAt < GAP_GRACE_MS) break;
      out.push({ seq: doc._id, origin: doc.origin, change: JSON.parse(doc.changeJson), at: doc.at });
      expected = doc._id + 1;
    }
    return out;
  }

  async latest(): Promise<number> {
    return (await this.counters.findOne({ _id: 'changes' }))?.seq ?? 0;
  }

  async watch(wake: () => void): Promise<() => Promise<void>> {
    const own = () => wake();
    this.watchers.add(own);
    const hello = await this.db.admin().command({ hello: 1 });
    let stream: ChangeStream | null = null;
    let reopen: NodeJS.Timeout | null = null;
    let stopped = false;
    const open = () => {
      if (stopped) return;
      stream = this.changes.watch([{ $match: { operationType: 'insert' } }]);
      stream.on('change', own);
      stream.once('error', () => {
        void stream?.close().catch(() => {});
        stream = null;
        reopen = setTimeout(() => { own(); open(); }, REOPEN_MS);
        reopen.unref();
      });
    };
    if (typeof hello.setName === 'string') open(); // change streams need a replica set
    return async () => {
      stopped = true;
      this.watchers.delete(own);
      if (reopen) clearTimeout(reopen);
      await stream?.close();
    };
  }

  async deleteBefore(t: number): Promise<void> {
    await this.changes.deleteMany({ at: { $lt: integer(t, 'at') } });
  }
}
