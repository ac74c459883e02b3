/**
 * MSC4004 third-party mappings in MongoDB, without multi-document transactions: a snapshot is
 * written as a generation nobody reads (its chunk numbers in tp_chunks), then published by
 * moving the (server, pepper) pointer document to it; lookups re-read the pointers and retry if
 * one moved. Of two instances committing the same snapshot, the one that deletes its pending
 * document publishes it.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { CommitResult, MemberState, ThirdPartyMappingStore } from '../ports/third-party.js';
import { chunks, insertIgnoringDuplicates, integer, text, texts, withUpsertRetry } from './values.js';

/** An unfinished snapshot. */
interface PendingDoc { _id: string; server: string; pepper: string; snapshot: string }
/** The visible snapshot of (server, pepper); _id is JSON [server, pepper]. */
interface ActiveDoc { _id: string; server: string; pepper: string; snapshot: string; generation: string; pushedAt: number; size: number }
interface HashDoc { generation: string; server: string; pepper: string; hash: string }
/** A chunk received of an unfinished snapshot. */
interface ChunkDoc { generation: string; server: string; pepper: string; chunk: number }

/** Hashes per batch of visibleHashes(). */
const READ_BATCH = 10_000;

const LOOKUP_ATTEMPTS = 5;
const activeId = (server: string, pepper: string): string => JSON.stringify([server, pepper]);

export class MongoThirdParty implements ThirdPartyMappingStore {
  private readonly pending: Collection<PendingDoc>;
  private readonly active: Collection<ActiveDoc>;
  private readonly hashes: Collection<HashDoc>;
  private readonly chunks: Collection<ChunkDoc>;

  constructor(db: Db) {
    this.pending = db.collection('tp_pending');
    this.active = db.collection('tp_active');
    this.hashes = db.collection('tp_hashes');
    this.chunks = db.collection('tp_chunks');
  }

  async init(): Promise<void> {
    await this.pending.createIndexes([{ key: { server: 1, pepper: 1, snapshot: 1 }, name: 'snapshot', unique: true }]);
    await this.active.createIndexes([{ key: { pepper: 1 }, name: 'pepper' }]);
    await this.hashes.createIndexes([
      { key: { generation: 1, hash: 1 }, name: 'generation_hash', unique: true },
      { key: { pepper: 1, hash: 1 }, name: 'pepper_hash' },
      { key: { server: 1 }, name: 'server' },
    ]);
    await this.chunks.createIndexes([
      { key: { generation: 1, chunk: 1 }, name: 'generation_chunk', unique: true },
      { key: { server: 1 }, name: 'server' },
      { key: { pepper: 1 }, name: 'pepper' },
    ]);
  }

  private async pendingGeneration(server: string, pepper: string, snapshot: string): Promise<string | null> {
    return (await this.pending.findOne({ server: text(server, 'server'), pepper: text(pepper, 'pepper'), snapshot: text(snapshot, 'snapshot') }))?._id ?? null;
  }

  async begin(server: string, pepper: string, snapshot: string): Promise<boolean> {
    if (await this.pendingGeneration(server, pepper, snapshot) !== null) return true;
    if (await this.active.findOne({ _id: activeId(server, pepper), snapshot })) return false;
    const stale = await this.pending.find({ server, pepper }).toArray();
    for (const doc of stale) {
      await this.pending.deleteOne({ _id: doc._id });
      await this.hashes.deleteMany({ generation: doc._id });
      await this.chunks.deleteMany({ generation: doc._id });
    }
    await insertIgnoringDuplicates(() => this.pending.insertMany([{ _id: randomUUID(), server, pepper, snapshot }]));
    return true;
  }

  async write(server: string, pepper: string, snapshot: string, chunk: number, hashes: string[]): Promise<number | null> {
    const generation = await this.pendingGeneration(server, pepper, snapshot);
    if (generation === null) return null;
    const docs = [...new Set(texts(hashes, 'hash'))].map((hash) => ({ generation, server, pepper, hash }));
    for (const batch of chunks(docs)) await insertIgnoringDuplicates(() => this.hashes.insertMany(batch, { ordered: false }));
    await insertIgnoringDuplicates(() => this.chunks.insertMany([{ generation, server, pepper, chunk: integer(chunk, 'chunk') }]));
    return this.chunks.countDocuments({ generation });
  }

  async commit(server: string, pepper: string, snapshot: string, count: number, at: number): Promise<CommitResult> {
    const filter = { server: text(server, 'server'), pepper: text(pepper, 'pepper'), snapshot: text(snapshot, 'snapshot') };
    const open = await this.pending.findOne(filter);
    if (!open) return 'unknown';
    const below = await this.chunks.countDocuments({ generation: open._id, chunk: { $lt: integer(count, 'chunks') } });
    if (below !== count || await this.chunks.countDocuments({ generation: open._id }) !== count) return 'incomplete';
    const finished = await this.pending.findOneAndDelete({ _id: open._id });
    if (!finished) return 'unknown';
    const size = await this.hashes.countDocuments({ generation: finished._id });
    const previous = await withUpsertRetry(() => this.active.findOneAndUpdate(
      { _id: activeId(server, pepper) },
      { $set: { server, pepper, snapshot, generation: finished._id, pushedAt: integer(at, 'at'), size } },
      { upsert: true, returnDocument: 'before' },
    ));
    await this.chunks.deleteMany({ generation: finished._id });
    if (previous) await this.hashes.deleteMany({ generation: previous.generation });
    return 'committed';
  }

  async *visibleHashes(server: string, pepper: string): AsyncIterable<string[]> {
    const pointer = await this.active.findOne({ _id: activeId(text(server, 'server'), text(pepper, 'pepper')) });
    if (!pointer) return;
    const cursor = this.hashes.find({ generation: pointer.generation }, { projection: { _id: 0, hash: 1 } }).sort({ generation: 1, hash: 1 }).batchSize(READ_BATCH);
    let batch: string[] = [];
    for await (const doc of cursor) {
      batch.push(doc.hash);
      if (batch.length === READ_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  async lookup(pepper: string, hashes: string[]): Promise<Record<string, string[]>> {
    const name = text(pepper, 'pepper');
    const wanted = chunks([...new Set(texts(hashes, 'hash'))]);
    if (wanted.length === 0) return {};
    const pointers = async () => new Map((await this.active.find({ pepper: name }).toArray()).map((d) => [d.generation, d.server]));
    for (let attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
      const servers = await pointers();
      const byServer = new Map<string, string[]>();
      for (const chunk of wanted) {
        const docs = await this.hashes.find({ pepper: name, hash: { $in: chunk }, generation: { $in: [...servers.keys()] } }, { projection: { _id: 0, generation: 1, hash: 1 } }).toArray();
        for (const doc of docs) {
          const server = servers.get(doc.generation)!;
          byServer.set(server, [...(byServer.get(server) ?? []), doc.hash]);
        }
      }
      const after = await pointers();
      if (after.size === servers.size && [...after.keys()].every((generation) => servers.has(generation))) return Object.fromEntries(byServer);
    }
    throw new Error('third-party mappings kept being replaced during the lookup');
  }

  async members(): Promise<MemberState[]> {
    const docs = await this.active.find({}).sort({ server: 1, pepper: 1 }).toArray();
    return docs.map((d) => ({ server: d.server, pepper: d.pepper, snapshot: d.snapshot, pushedAt: d.pushedAt, size: d.size }));
  }

  async dropServer(server: string): Promise<void> {
    const name = text(server, 'server');
    await this.active.deleteMany({ server: name });
    await this.pending.deleteMany({ server: name });
    await this.hashes.deleteMany({ server: name });
    await this.chunks.deleteMany({ server: name });
  }

  async retainPeppers(peppers: string[]): Promise<void> {
    const keep = texts(peppers, 'pepper');
    await this.active.deleteMany({ pepper: { $nin: keep } });
    await this.pending.deleteMany({ pepper: { $nin: keep } });
    await this.hashes.deleteMany({ pepper: { $nin: keep } });
    await this.chunks.deleteMany({ pepper: { $nin: keep } });
  }
}
