/**
 * MSC4004 third-party mappings in MongoDB, without multi-document transactions: a snapshot is
 * written as a generation nobody reads, then published by moving the (server, pepper) pointer
 * document to it; lookups re-read the pointers and retry if one moved.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { MemberState, ThirdPartyMappingStore } from '../ports/third-party.js';
import { chunks, insertIgnoringDuplicates, integer, text, texts, withUpsertRetry } from './values.js';

/** An unfinished snapshot. */
interface PendingDoc { _id: string; server: string; pepper: string; snapshot: string }
/** The visible snapshot of (server, pepper); _id is JSON [server, pepper]. */
interface ActiveDoc { _id: string; server: string; pepper: string; generation: string; pushedAt: number }
interface HashDoc { generation: string; server: string; pepper: string; hash: string }

const LOOKUP_ATTEMPTS = 5;
const activeId = (server: string, pepper: string): string => JSON.stringify([server, pepper]);

export class MongoThirdParty implements ThirdPartyMappingStore {
  private readonly pending: Collection<PendingDoc>;
  private readonly active: Collection<ActiveDoc>;
  private readonly hashes: Collection<HashDoc>;

  constructor(db: Db) {
    this.pending = db.collection('tp_pending');
    this.active = db.collection('tp_active');
    this.hashes = db.collection('tp_hashes');
  }

  async init(): Promise<void> {
    await this.pending.createIndexes([{ key: { server: 1, pepper: 1, snapshot: 1 }, name: 'snapshot', unique: true }]);
    await this.active.createIndexes([{ key: { pepper: 1 }, name: 'pepper' }]);
    await this.hashes.createIndexes([
      { key: { generation: 1, hash: 1 }, name: 'generation_hash', unique: true },
      { key: { pepper: 1, hash: 1 }, name: 'pepper_hash' },
      { key: { server: 1 }, name: 'server' },
    ]);
  }

  private async pendingGeneration(server: string, pepper: string, snapshot: string): Promise<string | null> {
    return (await this.pending.findOne({ server: text(server, 'server'), pepper: text(pepper, 'pepper'), snapshot: text(snapshot, 'snapshot') }))?._id ?? null;
  }

  async begin(server: string, pepper: string, snapshot: string): Promise<void> {
    if (await this.pendingGeneration(server, pepper, snapshot) !== null) return;
    const stale = await this.pending.find({ server, pepper }).toArray();
    for (const doc of stale) {
      await this.pending.deleteOne({ _id: doc._id });
      await this.hashes.deleteMany({ generation: doc._id });
    }
    await insertIgnoringDuplicates(() => this.pending.insertMany([{ _id: randomUUID(), server, pepper, snapshot }]));
  }

  async write(server: string, pepper: string, snapshot: string, hashes: string[]): Promise<boolean> {
    const generation = await this.pendingGeneration(server, pepper, snapshot);
    if (generation === null) return false;
    const docs = [...new Set(texts(hashes, 'hash'))].map((hash) => ({ generation, server, pepper, hash }));
    for (const chunk of chunks(docs)) await insertIgnoringDuplicates(() => this.hashes.insertMany(chunk, { ordered: false }));
    return true;
  }

  async commit(server: string, pepper: string, snapshot: string, at: number): Promise<boolean> {
    const finished = await this.pending.findOneAndDelete({ server: text(server, 'server'), pepper: text(pepper, 'pepper'), snapshot: text(snapshot, 'snapshot') });
    if (!finished) return false;
    const previous = await withUpsertRetry(() => this.active.findOneAndUpdate(
      { _id: activeId(server, pepper) },
      { $set: { server, pepper, generation: finished._id, pushedAt: integer(at, 'at') } },
      { upsert: true, returnDocument: 'before' },
    ));
    if (previous) await this.hashes.deleteMany({ generation: previous.generation });
    return true;
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
    return Promise.all(docs.map(async (d) => ({
      server: d.server, pepper: d.pepper, pushedAt: d.pushedAt, size: await this.hashes.countDocuments({ generation: d.generation }),
    })));
  }

  async dropServer(server: string): Promise<void> {
    const name = text(server, 'server');
    await this.active.deleteMany({ server: name });
    await this.pending.deleteMany({ server: name });
    await this.hashes.deleteMany({ server: name });
  }

  async retainPeppers(peppers: string[]): Promise<void> {
    const keep = texts(peppers, 'pepper');
    await this.active.deleteMany({ pepper: { $nin: keep } });
    await this.pending.deleteMany({ pepper: { $nin: keep } });
    await this.hashes.deleteMany({ pepper: { $nin: keep } });
  }
}
