/**
 * The lookup pepper and the `sql` hash tables in PostgreSQL. A hash table is a generation: a
 * row of hash_sets and its own partition of hash_entries, written while lookups cannot see it
 * (they read the active generation of their pepper), then made active in one transaction that
 * also drops the previous generation's partition. A lookup is one statement: it reads the active
 * generation and its entries from one snapshot, and the partition it reads cannot be dropped
 * under it (dropping waits for its lock).
 */
import type { HashEntry, HashTableStore, PepperState, PepperStore } from '../ports/hashes.js';
import type { PgDb, Queryable, Row } from './db.js';

/**
 * A replacement that wrote nothing for this long is taken, at start, for one whose process died.
 * Were it alive after all, it would only fail: it publishes nothing once unregistered.
 */
const ABANDONED_AFTER_MS = 3_600_000;

const DROPPED = 'the new hash table was dropped by retain() while being written';

/** The advisory lock key space of hash table publications ('hash'); the second key is the pepper's hash. */
const PUBLISH_LOCK = 0x68617368;

/** The partition of a generation (a number the database made, never input). */
function partition(generation: number): string {
  if (!Number.isSafeInteger(generation) || generation <= 0) throw new Error(`bad hash table generation ${generation}`);
  return `hash_entries_${generation}`;
}

/** Drops generations: their rows and partitions, within the caller's transaction. */
async function dropGenerations(tx: Queryable, generations: number[]): Promise<void> {
  if (generations.length === 0) return;
  await tx.run('DELETE FROM hash_sets WHERE generation = ANY($1::bigint[])', [generations]);
  for (const generation of generations) await tx.run(`DROP TABLE IF EXISTS ${partition(generation)}`);
}

export class PgPeppers implements PepperStore {
  constructor(private readonly db: PgDb) {}

  async getPepperState(): Promise<PepperState | null> {
    const [r] = await this.db.query('SELECT * FROM pepper_state WHERE id = 1');
    return r ? { pepper: r.pepper, altPeppers: r.alt_peppers, rotatedAt: r.rotated_at, requestCount: r.request_count } : null;
  }

  async swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean> {
    const values = [next.pepper, next.altPeppers, next.rotatedAt, next.requestCount];
    if (expectedPepper === null) {
      return await this.db.run(`INSERT INTO pepper_state (id, pepper, alt_peppers, rotated_at, request_count) VALUES (1, $1, $2::text[], $3, $4)
        ON CONFLICT (id) DO NOTHING`, values) > 0;
    }
    return await this.db.run('UPDATE pepper_state SET pepper = $1, alt_peppers = $2::text[], rotated_at = $3, request_count = $4 WHERE id = 1 AND pepper = $5',
      [...values, expectedPepper]) > 0;
  }

  async incrementPepperRequests(pepper: string): Promise<number> {
    const [row] = await this.db.query('UPDATE pepper_state SET request_count = request_count + 1 WHERE id = 1 AND pepper = $1 RETURNING request_count', [pepper]);
    return row?.request_count ?? 0;
  }
}

export class PgHashTables implements HashTableStore {
  constructor(private readonly db: PgDb) {}

  /** Removes the generations crashed replacements left (never made active, untouched for ABANDONED_AFTER_MS). */
  async init(): Promise<void> {
    await this.db.transaction(async (tx) => {
      const rows = await tx.query('SELECT generation FROM hash_sets WHERE NOT active AND touched_at < $1 FOR UPDATE', [Date.now() - ABANDONED_AFTER_MS]);
      await dropGenerations(tx, rows.map((r) => r.generation as number));
    });
  }

  async replace(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void> {
    const generation = await this.db.transaction(async (tx) => {
      const [row] = await tx.query('INSERT INTO hash_sets (pepper, touched_at) VALUES ($1, $2) RETURNING generation', [pepper, Date.now()]);
      await tx.run(`CREATE TABLE ${partition(row.generation)} PARTITION OF hash_entries FOR VALUES IN (${row.generation})`);
      return row.generation as number;
    });
    try {
      for await (const batch of entries) {
        if (batch.length === 0) continue;
        // One statement per batch; a hash repeated keeps the mxid that comes first (sources come
        // in priority order), in this batch or an earlier one.
        await this.db.run(`WITH touched AS (UPDATE hash_sets SET touched_at = $4 WHERE generation = $3)
          INSERT INTO ${partition(generation)} (generation, hash, mxid)
          SELECT $3, hash, mxid FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e (hash, mxid, n) ORDER BY n
          ON CONFLICT DO NOTHING`, [batch.map((e) => e.hash), batch.map((e) => e.mxid), generation, Date.now()]);
      }
      // Statistics before the first lookup: without them the planner takes the new table for a
      // small one and may scan it whole.
      await this.db.run(`ANALYZE ${partition(generation)}`);
      await this.publish(pepper, generation);
    } catch (error) {
      // Whatever failed (the entries, the database, retain() dropping this table meanwhile), the
      // new table goes and the previous one stays.
      const registered = await this.db.transaction(async (tx) => {
        const found = (await tx.query('SELECT 1 FROM hash_sets WHERE generation = $1 FOR UPDATE', [generation])).length > 0;
        await dropGenerations(tx, [generation]);
        return found;
      });
      throw registered ? error : new Error(DROPPED);
    }
  }

  /** Makes `generation` the active table of `pepper` and drops the previous one, in one transaction. */
  private async publish(pepper: string, generation: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Publications of one pepper take turns, each reading what the previous one committed.
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PUBLISH_LOCK, pepper]);
      const sets = await tx.query('SELECT generation, active FROM hash_sets WHERE pepper = $1 AND (active OR generation = $2) ORDER BY generation FOR UPDATE', [pepper, generation]);
      if (!sets.some((s: Row) => s.generation === generation)) throw new Error(DROPPED);
      const previous = sets.filter((s: Row) => s.active).map((s: Row) => s.generation as number);
      await tx.run('UPDATE hash_sets SET active = false WHERE generation = ANY($1::bigint[])', [previous]);
      await tx.run('UPDATE hash_sets SET active = true WHERE generation = $1', [generation]);
      await dropGenerations(tx, previous);
    });
  }

  async lookup(pepper: string, hashes: string[]): Promise<HashEntry[]> {
    if (hashes.length === 0) return [];
    // A join on the unnested list: one index probe per hash (1000 or 10,000 of them), where
    // `hash = ANY(…)` may be planned as a scan of the whole table.
    return this.db.query<HashEntry>(`SELECT e.hash, e.mxid FROM unnest($2::text[]) AS h (hash) JOIN hash_entries e ON e.hash = h.hash
      WHERE e.generation = (SELECT generation FROM hash_sets WHERE pepper = $1 AND active)`, [pepper, [...new Set(hashes)]]);
  }

  async add(pepper: string, entries: HashEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // The last of a hash given twice wins (one statement cannot update a row twice).
    const byHash = new Map(entries.map((e) => [e.hash, e.mxid]));
    await this.db.run(`INSERT INTO hash_entries (generation, hash, mxid)
      SELECT s.generation, e.hash, e.mxid FROM hash_sets s, unnest($2::text[], $3::text[]) AS e (hash, mxid) WHERE s.pepper = $1 AND s.active
      ON CONFLICT (generation, hash) DO UPDATE SET mxid = excluded.mxid`, [pepper, [...byHash.keys()], [...byHash.values()]]);
  }

  async remove(pepper: string, entries: HashEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db.run(`DELETE FROM hash_entries h USING hash_sets s, unnest($2::text[], $3::text[]) AS e (hash, mxid)
      WHERE s.pepper = $1 AND s.active AND h.generation = s.generation AND h.hash = e.hash AND h.mxid = e.mxid`,
    [pepper, entries.map((e) => e.hash), entries.map((e) => e.mxid)]);
  }

  async retain(peppers: string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      const stale = await tx.query('SELECT generation FROM hash_sets WHERE NOT (pepper = ANY($1::text[])) ORDER BY generation FOR UPDATE', [peppers]);
      await dropGenerations(tx, stale.map((r) => r.generation as number));
    });
  }

  async size(pepper: string): Promise<number> {
    const [{ n }] = await this.db.query<{ n: number }>(`SELECT count(*) AS n FROM hash_entries
      WHERE generation = (SELECT generation FROM hash_sets WHERE pepper = $1 AND active)`, [pepper]);
    return n;
  }
}
