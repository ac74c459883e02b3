/**
 * The lookup pepper and the `sql` hash tables in SQLite. Each replace writes a new hash set (a
 * generation) that lookups cannot see, then makes it the active set of its pepper in one
 * statement and drops the previous one.
 */
import type { HashEntry, HashTableStore, PepperState, PepperStore } from '../ports/hashes.js';
import { chunks, placeholders, unique, type Row, type SqliteDb } from './db.js';

export class SqlitePeppers implements PepperStore {
  constructor(private readonly db: SqliteDb) {}

  async getPepperState(): Promise<PepperState | null> {
    const r = this.db.prepared('SELECT * FROM pepper_state WHERE id = 1').get() as Row | undefined;
    return r ? { pepper: r.pepper, altPeppers: JSON.parse(r.alt_peppers), rotatedAt: r.rotated_at, requestCount: r.request_count } : null;
  }

  async swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean> {
    const values = [next.pepper, JSON.stringify(next.altPeppers), next.rotatedAt, next.requestCount];
    if (expectedPepper === null) {
      return this.db.prepared('INSERT INTO pepper_state (id, pepper, alt_peppers, rotated_at, request_count) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
        .run(...values).changes > 0;
    }
    return this.db.prepared('UPDATE pepper_state SET pepper = ?, alt_peppers = ?, rotated_at = ?, request_count = ? WHERE id = 1 AND pepper = ?')
      .run(...values, expectedPepper).changes > 0;
  }

  async incrementPepperRequests(pepper: string): Promise<number> {
    const row = this.db.prepared('UPDATE pepper_state SET request_count = request_count + 1 WHERE id = 1 AND pepper = ? RETURNING request_count').get(pepper) as Row | undefined;
    return row?.request_count ?? 0;
  }
}

export class SqliteHashTables implements HashTableStore {
  constructor(private readonly db: SqliteDb) {
    // Hash sets never made active were left by a replacement that did not finish (crash): one
    // process owns an SQLite file (./lock.ts), so none of them is still being written.
    db.transaction(() => {
      db.prepared('DELETE FROM hash_entries WHERE generation IN (SELECT generation FROM hash_sets WHERE active = 0)').run();
      db.prepared('DELETE FROM hash_sets WHERE active = 0').run();
    });
  }

  private active(pepper: string): number | null {
    const row = this.db.prepared('SELECT generation FROM hash_sets WHERE pepper = ? AND active = 1').get(pepper) as Row | undefined;
    return row ? row.generation as number : null;
  }

  async replace(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void> {
    const generation = Number(this.db.prepared('INSERT INTO hash_sets (pepper) VALUES (?)').run(pepper).lastInsertRowid);
    try {
      // A hash repeated keeps its first mxid (sources come in priority order).
      const insert = this.db.prepared('INSERT OR IGNORE INTO hash_entries (generation, hash, mxid) VALUES (?, ?, ?)');
      for await (const batch of entries) this.db.transaction(() => { for (const e of batch) insert.run(generation, e.hash, e.mxid); });
    } catch (error) {
      this.drop([generation]);
      throw error;
    }
    const previous = this.db.transaction(() => {
      if (!this.db.prepared('SELECT 1 FROM hash_sets WHERE generation = ?').get(generation)) {
        throw new Error('the new hash table was dropped by retain() while being written');
      }
      const old = (this.db.prepared('SELECT generation FROM hash_sets WHERE pepper = ? AND active = 1').all(pepper) as Row[]).map((r) => r.generation as number);
      this.db.prepared('UPDATE hash_sets SET active = 0 WHERE pepper = ? AND active = 1').run(pepper);
      this.db.prepared('UPDATE hash_sets SET active = 1 WHERE generation = ?').run(generation);
      return old;
    });
    this.drop(previous);
  }

  private drop(generations: number[]): void {
    this.db.transaction(() => {
      for (const generation of generations) {
        this.db.prepared('DELETE FROM hash_entries WHERE generation = ?').run(generation);
        this.db.prepared('DELETE FROM hash_sets WHERE generation = ?').run(generation);
      }
    });
  }

  async lookup(pepper: string, hashes: string[]): Promise<HashEntry[]> {
    // Synchronous from first chunk to last, so no replacement can slip in between chunks.
    const generation = this.active(pepper);
    if (generation === null) return [];
    const out: HashEntry[] = [];
    for (const chunk of chunks(unique(hashes))) {
      const rows = this.db.prepared(`SELECT hash, mxid FROM hash_entries WHERE generation = ? AND hash IN (${placeholders(chunk.length)})`)
        .all(generation, ...chunk) as HashEntry[];
      out.push(...rows);
    }
    return out;
  }

  async add(pepper: string, entries: HashEntry[]): Promise<void> {
    const generation = this.active(pepper);
    if (generation === null) return;
    const insert = this.db.prepared('INSERT OR REPLACE INTO hash_entries (generation, hash, mxid) VALUES (?, ?, ?)');
    this.db.transaction(() => { for (const e of entries) insert.run(generation, e.hash, e.mxid); });
  }

  async remove(pepper: string, entries: HashEntry[]): Promise<void> {
    const generation = this.active(pepper);
    if (generation === null) return;
    const remove = this.db.prepared('DELETE FROM hash_entries WHERE generation = ? AND hash = ? AND mxid = ?');
    this.db.transaction(() => { for (const e of entries) remove.run(generation, e.hash, e.mxid); });
  }

  async retain(peppers: string[]): Promise<void> {
    const keep = new Set(peppers);
    const stale = (this.db.prepared('SELECT generation, pepper FROM hash_sets').all() as Row[])
      .filter((r) => !keep.has(r.pepper)).map((r) => r.generation as number);
    this.drop(stale);
  }

  async size(pepper: string): Promise<number> {
    const generation = this.active(pepper);
    if (generation === null) return 0;
    return (this.db.prepared('SELECT count(*) AS n FROM hash_entries WHERE generation = ?').get(generation) as Row).n as number;
  }
}
