/**
 * MSC4004 third-party mappings in PostgreSQL. A snapshot is a row of tp_snapshots (a
 * generation): pending while written (its chunk numbers in tp_chunks), then made the active one
 * of its (server, pepper) in one transaction that drops the previous active one. The changes to
 * one (server, pepper) take a transaction advisory lock on it, so instances pushing for the same
 * member take turns.
 */
import type { CommitResult, MemberState, ThirdPartyMappingStore } from '../ports/third-party.js';
import { hashesByServer } from '../sql-rows.js';
import type { PgDb, Queryable } from './db.js';

/** The advisory lock key space of the mappings ('tpmm'); the second key hashes (server, pepper). */
const MEMBER_LOCK = 0x74706d6d;
/** Hashes per page of visibleHashes(). */
const READ_BATCH = 10_000;

export class PgThirdParty implements ThirdPartyMappingStore {
  constructor(private readonly db: PgDb) {}

  /** Runs `work` in a transaction holding the lock of (server, pepper). */
  private locked<T>(server: string, pepper: string, work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(10) || $3))', [MEMBER_LOCK, server, pepper]);
      return work(tx);
    });
  }

  private async pending(tx: Queryable, server: string, pepper: string, snapshot: string): Promise<number | null> {
    const [row] = await tx.query('SELECT generation FROM tp_snapshots WHERE server = $1 AND pepper = $2 AND snapshot = $3 AND NOT active', [server, pepper, snapshot]);
    return row ? row.generation as number : null;
  }

  async begin(server: string, pepper: string, snapshot: string): Promise<boolean> {
    return this.locked(server, pepper, async (tx) => {
      if (await this.pending(tx, server, pepper, snapshot) !== null) return true;
      const visible = await tx.query('SELECT 1 FROM tp_snapshots WHERE server = $1 AND pepper = $2 AND snapshot = $3 AND active', [server, pepper, snapshot]);
      if (visible.length > 0) return false;
      // tp_hashes and tp_chunks rows go with their snapshot (ON DELETE CASCADE).
      await tx.run('DELETE FROM tp_snapshots WHERE server = $1 AND pepper = $2 AND NOT active', [server, pepper]);
      await tx.run('INSERT INTO tp_snapshots (server, pepper, snapshot) VALUES ($1, $2, $3)', [server, pepper, snapshot]);
      return true;
    });
  }

  async write(server: string, pepper: string, snapshot: string, chunk: number, hashes: string[]): Promise<number | null> {
    return this.locked(server, pepper, async (tx) => {
      const generation = await this.pending(tx, server, pepper, snapshot);
      if (generation === null) return null;
      if (hashes.length > 0) {
        await tx.run('INSERT INTO tp_hashes (generation, hash) SELECT $1, hash FROM unnest($2::text[]) AS h (hash) ON CONFLICT DO NOTHING', [generation, hashes]);
      }
      await tx.run('INSERT INTO tp_chunks (generation, chunk) VALUES ($1, $2) ON CONFLICT DO NOTHING', [generation, chunk]);
      const [{ n }] = await tx.query('SELECT count(*) AS n FROM tp_chunks WHERE generation = $1', [generation]);
      return n as number;
    });
  }

  async commit(server: string, pepper: string, snapshot: string, chunks: number, at: number): Promise<CommitResult> {
    return this.locked(server, pepper, async (tx) => {
      const generation = await this.pending(tx, server, pepper, snapshot);
      if (generation === null) return 'unknown';
      const [{ below, total }] = await tx.query('SELECT count(*) FILTER (WHERE chunk < $2) AS below, count(*) AS total FROM tp_chunks WHERE generation = $1', [generation, chunks]);
      if (below !== chunks || total !== chunks) return 'incomplete';
      await tx.run('DELETE FROM tp_snapshots WHERE server = $1 AND pepper = $2 AND active', [server, pepper]);
      await tx.run('DELETE FROM tp_chunks WHERE generation = $1', [generation]);
      await tx.run('UPDATE tp_snapshots SET active = true, pushed_at = $1 WHERE generation = $2', [at, generation]);
      return 'committed';
    });
  }

  async *visibleHashes(server: string, pepper: string): AsyncIterable<string[]> {
    const [row] = await this.db.query('SELECT generation FROM tp_snapshots WHERE server = $1 AND pepper = $2 AND active', [server, pepper]);
    if (!row) return;
    // Pages by key, so no connection is held across the consumer's awaits; a replaced snapshot
    // (its rows deleted) ends the reading early.
    for (let after = '';;) {
      const rows = await this.db.query(`SELECT hash FROM tp_hashes WHERE generation = $1 AND hash > $2 ORDER BY hash LIMIT ${READ_BATCH}`, [row.generation, after]);
      const hashes = rows.map((r) => r.hash as string);
      if (hashes.length > 0) yield hashes;
      if (hashes.length < READ_BATCH) return;
      after = hashes[hashes.length - 1];
    }
  }

  async lookup(pepper: string, hashes: string[]): Promise<Record<string, string[]>> {
    if (hashes.length === 0) return {};
    const rows = await this.db.query(`SELECT s.server, h.hash FROM tp_hashes h JOIN tp_snapshots s ON s.generation = h.generation
      WHERE s.pepper = $1 AND s.active AND h.hash = ANY($2::text[])`, [pepper, hashes]);
    return Object.fromEntries(hashesByServer(rows));
  }

  async members(): Promise<MemberState[]> {
    const rows = await this.db.query(`SELECT s.server, s.pepper, s.snapshot, s.pushed_at, (SELECT count(*) FROM tp_hashes h WHERE h.generation = s.generation) AS size
      FROM tp_snapshots s WHERE s.active ORDER BY s.server COLLATE "C", s.pepper COLLATE "C"`);
    return rows.map((r) => ({ server: r.server, pepper: r.pepper, snapshot: r.snapshot, pushedAt: r.pushed_at, size: r.size }));
  }

  async dropServer(server: string): Promise<void> {
    await this.db.run('DELETE FROM tp_snapshots WHERE server = $1', [server]);
  }

  async retainPeppers(peppers: string[]): Promise<void> {
    await this.db.run('DELETE FROM tp_snapshots WHERE NOT (pepper = ANY($1::text[]))', [peppers]);
  }
}
