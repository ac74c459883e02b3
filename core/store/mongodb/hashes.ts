/**
 * The lookup pepper and the `sql` hash tables in MongoDB, without multi-document transactions:
 * the pepper state is one document, swapped with a filter on the expected pepper; a hash table
 * is written as a new generation nobody reads, registered as pending in the per-pepper pointer
 * document, then published by moving the pointer to it if it is still registered (retain() may
 * have dropped it meanwhile); lookups re-read the pointer and retry if it moved. What a crash
 * leaves (abandoned generations) is removed at start.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { HashEntry, HashTableStore, PepperState, PepperStore } from '../ports/hashes.js';
import { chunks, insertIgnoringDuplicates, integer, isDuplicateKey, text, texts, withUpsertRetry } from './values.js';

interface PepperStateDoc { _id: 'current'; pepper: string; altPeppers: string[]; rotatedAt: number; requestCount: number }
/** The hash table of a pepper (`_id`): its published generation, and the replacements being written. */
interface HashSetDoc { _id: string; generation: string | null; pending?: PendingHashSet[] }
/** A replacement in progress; `touchedAt` moves with each batch it writes. */
interface PendingHashSet { generation: string; touchedAt: number }
interface HashEntryDoc { pepper: string; generation: string; hash: string; mxid: string }

/** Lookups retried when a replacement published a new hash table meanwhile (rare: one per rotation). */
const LOOKUP_ATTEMPTS = 5;
/**
 * A replacement that wrote nothing for this long is taken, at start, for one whose process died.
 * Were it alive after all, it would only fail: it publishes nothing once unregistered.
 */
const ABANDONED_AFTER_MS = 3_600_000;

/** Every generation a hash table document refers to: the published one and those being written. */
const generationsOf = (doc: HashSetDoc): string[] =>
  [doc.generation, ...(doc.pending ?? []).map((pending) => pending.generation)].filter((g): g is string => typeof g === 'string');

export class MongoPeppers implements PepperStore {
  private readonly pepperState: Collection<PepperStateDoc>;

  constructor(db: Db) {
    this.pepperState = db.collection('pepper_state');
  }

  async getPepperState(): Promise<PepperState | null> {
    const doc = await this.pepperState.findOne({ _id: 'current' });
    return doc ? { pepper: doc.pepper, altPeppers: doc.altPeppers, rotatedAt: doc.rotatedAt, requestCount: doc.requestCount } : null;
  }

  async swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean> {
    const state = {
      pepper: text(next.pepper, 'pepper'), altPeppers: texts(next.altPeppers, 'altPeppers'),
      rotatedAt: integer(next.rotatedAt, 'rotatedAt'), requestCount: integer(next.requestCount, 'requestCount'),
    };
    if (expectedPepper === null) {
      // The first instance to insert the single state document wins; the others get a duplicate key.
      try {
        await this.pepperState.insertOne({ _id: 'current', ...state });
        return true;
      } catch (error) {
        if (isDuplicateKey(error)) return false;
        throw error;
      }
    }
    const result = await this.pepperState.updateOne({ _id: 'current', pepper: text(expectedPepper, 'expectedPepper') }, { $set: state });
    return result.matchedCount === 1;
  }

  async incrementPepperRequests(pepper: string): Promise<number> {
    const doc = await this.pepperState.findOneAndUpdate(
      { _id: 'current', pepper: text(pepper, 'pepper') }, { $inc: { requestCount: 1 } }, { returnDocument: 'after' },
    );
    return doc?.requestCount ?? 0;
  }
}

export class MongoHashTables implements HashTableStore {
  private readonly hashSets: Collection<HashSetDoc>;
  private readonly hashEntries: Collection<HashEntryDoc>;

  constructor(db: Db) {
    this.hashSets = db.collection('hash_sets');
    this.hashEntries = db.collection('hash_entries');
  }

  async init(): Promise<void> {
    await this.hashEntries.createIndexes([
      { key: { generation: 1, hash: 1 }, name: 'generation_hash', unique: true },
      { key: { pepper: 1 }, name: 'pepper' },
    ]);
    await this.removeAbandoned();
  }

  /**
   * Removes what crashed replacements left: pending generations not written to for
   * ABANDONED_AFTER_MS, and entries of generations no table refers to (a replacement that died
   * before registering, or after publishing but before deleting the previous generation).
   */
  private async removeAbandoned(): Promise<void> {
    // The entries' generations are read before the tables: a generation registered in between
    // is being written by another instance, and is not in this list.
    const written = await this.hashEntries.distinct('generation');
    const abandonedBefore = Date.now() - ABANDONED_AFTER_MS;
    await this.hashSets.updateMany({ 'pending.touchedAt': { $lt: abandonedBefore } }, { $pull: { pending: { touchedAt: { $lt: abandonedBefore } } } });
    const referenced = new Set((await this.hashSets.find({}).toArray()).flatMap(generationsOf));
    const abandoned = written.filter((generation) => !referenced.has(generation));
    for (const chunk of chunks(abandoned)) await this.hashEntries.deleteMany({ generation: { $in: chunk } });
  }

  private async active(pepper: string): Promise<string | null> {
    return (await this.hashSets.findOne({ _id: text(pepper, 'pepper') }))?.generation ?? null;
  }

  async replace(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void> {
    const name = text(pepper, 'pepper');
    const generation = randomUUID();
    // Registered before its first entry: retain() and the start-up cleanup see it.
    await withUpsertRetry(() => this.hashSets.updateOne(
      { _id: name }, { $push: { pending: { generation, touchedAt: Date.now() } }, $setOnInsert: { generation: null } }, { upsert: true },
    ));
    try {
      for await (const batch of entries) {
        if (batch.length === 0) continue;
        const docs = batch.map((e) => ({ pepper: name, generation, hash: text(e.hash, 'hash'), mxid: text(e.mxid, 'mxid') }));
        // A repeated hash keeps the mxid written first.
        await insertIgnoringDuplicates(() => this.hashEntries.insertMany(docs, { ordered: false }));
        await this.hashSets.updateOne({ _id: name, 'pending.generation': generation }, { $set: { 'pending.$.touchedAt': Date.now() } });
      }
    } catch (error) {
      await this.hashSets.updateOne({ _id: name }, { $pull: { pending: { generation } } });
      await this.hashEntries.deleteMany({ generation });
      throw error;
    }
    // Published only while still registered, in one write: if retain() dropped the table
    // meanwhile, it deleted part of these entries, and nothing is published.
    const previous = await this.hashSets.findOneAndUpdate(
      { _id: name, 'pending.generation': generation }, { $set: { generation }, $pull: { pending: { generation } } }, { returnDocument: 'before' },
    );
    if (!previous) {
      await this.hashEntries.deleteMany({ generation });
      throw new Error('the new hash table was dropped by retain() while being written');
    }
    if (previous.generation) await this.hashEntries.deleteMany({ generation: previous.generation });
  }

  async lookup(pepper: string, hashes: string[]): Promise<HashEntry[]> {
    const name = text(pepper, 'pepper');
    const wanted = chunks([...new Set(texts(hashes, 'hash'))]);
    if (wanted.length === 0) return [];
    for (let attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
      const generation = await this.active(name);
      if (generation === null) return [];
      const out: HashEntry[] = [];
      for (const chunk of wanted) {
        const docs = await this.hashEntries.find({ generation, hash: { $in: chunk } }, { projection: { _id: 0, hash: 1, mxid: 1 } }).toArray();
        out.push(...docs.map((d) => ({ hash: d.hash, mxid: d.mxid })));
      }
      // The previous table is deleted only after the pointer moves: an unmoved pointer means
      // nothing of this generation was deleted while it was read.
      if (await this.active(name) === generation) return out;
    }
    throw new Error('the hash table kept being replaced during the lookup');
  }

  async add(pepper: string, entries: HashEntry[]): Promise<void> {
    const name = text(pepper, 'pepper');
    const generation = await this.active(name);
    if (generation === null || entries.length === 0) return;
    await this.hashEntries.bulkWrite(entries.map((e) => ({
      updateOne: {
        filter: { generation, hash: text(e.hash, 'hash') },
        update: { $set: { pepper: name, mxid: text(e.mxid, 'mxid') } },
        upsert: true,
      },
    })), { ordered: false });
  }

  async remove(pepper: string, entries: HashEntry[]): Promise<void> {
    const generation = await this.active(text(pepper, 'pepper'));
    if (generation === null || entries.length === 0) return;
    await this.hashEntries.bulkWrite(entries.map((e) => ({
      deleteOne: { filter: { generation, hash: text(e.hash, 'hash'), mxid: text(e.mxid, 'mxid') } },
    })), { ordered: false });
  }

  async retain(peppers: string[]): Promise<void> {
    const keep = texts(peppers, 'pepper');
    // Each table document goes first, atomically with the generations it names: lookups then find
    // no table rather than one being deleted, and a replacement writing one of them is
    // unregistered, so it will not publish what is deleted here.
    const dropped = await this.hashSets.find({ _id: { $nin: keep } }, { projection: { _id: 1 } }).toArray();
    for (const { _id } of dropped) {
      const doc = await this.hashSets.findOneAndDelete({ _id });
      if (doc) await this.hashEntries.deleteMany({ generation: { $in: generationsOf(doc) } });
    }
  }

  async size(pepper: string): Promise<number> {
    const generation = await this.active(text(pepper, 'pepper'));
    return generation === null ? 0 : this.hashEntries.countDocuments({ generation });
  }
}
