/**
 * TEMPORARY: the hash ports (core/store/ports/hashes.ts) over today's single Store, until the
 * storage split (issue 12) provides them itself; then this file goes. Single-entry add/remove
 * reach into each backend's tables, the only way the old port allows.
 */
import type { Store } from '../../core/store/port.js';
import type { HashEntry, HashTableStore, PepperStore } from '../../core/store/ports/hashes.js';
import { SqliteStore } from '../../core/store/sqlite.js';

export function legacyPeppers(store: Store): PepperStore {
  return {
    getPepperState: () => store.getPepperState(),
    swapPepperState: (expected, next) => store.swapPepperState(expected, next),
    incrementPepperRequests: (pepper) => store.incrementPepperRequests(pepper),
  };
}

type SqliteInternals = { sql: import('better-sqlite3').Database };
type MongoInternals = {
  hashSets: { findOne(filter: object): Promise<{ generation: string } | null> };
  hashEntries: {
    updateOne(filter: object, update: object, options: object): Promise<unknown>;
    deleteOne(filter: object): Promise<unknown>;
    countDocuments(filter: object): Promise<number>;
  };
};

export function legacyHashTables(store: Store): HashTableStore {
  const sqlite = store instanceof SqliteStore ? (store as unknown as SqliteInternals).sql : null;
  const mongo = sqlite ? null : store as unknown as MongoInternals;
  const sqliteGeneration = (pepper: string): number | undefined =>
    (sqlite!.prepare('SELECT generation FROM hash_sets WHERE pepper = ? AND active = 1').get(pepper) as { generation: number } | undefined)?.generation;

  return {
    replace: (pepper, entries) => store.replaceHashes(pepper, entries),
    lookup: (pepper, hashes) => store.lookupHashes(pepper, hashes),
    retain: (peppers) => store.deleteHashesExcept(peppers),
    async add(pepper: string, entries: HashEntry[]) {
      if (sqlite) {
        const generation = sqliteGeneration(pepper);
        if (generation === undefined) return;
        const insert = sqlite.prepare('INSERT OR REPLACE INTO hash_entries (generation, hash, mxid) VALUES (?, ?, ?)');
        sqlite.transaction(() => { for (const e of entries) insert.run(generation, e.hash, e.mxid); })();
        return;
      }
      const set = await mongo!.hashSets.findOne({ _id: pepper });
      for (const e of set ? entries : []) {
        await mongo!.hashEntries.updateOne({ generation: set!.generation, hash: e.hash }, { $set: { pepper, mxid: e.mxid } }, { upsert: true });
      }
    },
    async remove(pepper: string, entries: HashEntry[]) {
      if (sqlite) {
        const generation = sqliteGeneration(pepper);
        if (generation === undefined) return;
        const remove = sqlite.prepare('DELETE FROM hash_entries WHERE generation = ? AND hash = ? AND mxid = ?');
        sqlite.transaction(() => { for (const e of entries) remove.run(generation, e.hash, e.mxid); })();
        return;
      }
      const set = await mongo!.hashSets.findOne({ _id: pepper });
      for (const e of set ? entries : []) await mongo!.hashEntries.deleteOne({ generation: set!.generation, hash: e.hash, mxid: e.mxid });
    },
    async size(pepper: string) {
      if (sqlite) {
        const generation = sqliteGeneration(pepper);
        return generation === undefined ? 0 : (sqlite.prepare('SELECT count(*) AS n FROM hash_entries WHERE generation = ?').get(generation) as { n: number }).n;
      }
      const set = await mongo!.hashSets.findOne({ _id: pepper });
      return set ? mongo!.hashEntries.countDocuments({ generation: set.generation }) : 0;
    },
  };
}
