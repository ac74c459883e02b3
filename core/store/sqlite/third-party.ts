/**
 * MSC4004 third-party mappings in SQLite. A snapshot is a row of tp_snapshots (a generation):
 * pending while written (its chunk numbers in tp_chunks), then made the active one of its
 * (server, pepper) in one transaction that drops the previous active one.
 */
import type { CommitResult, MemberState, ThirdPartyMappingStore } from '../ports/third-party.js';
import { hashesByServer } from '../sql-rows.js';
import { chunks, placeholders, unique, type Row, type SqliteDb } from './db.js';

/** Hashes per batch of visibleHashes(). */
const READ_BATCH = 10_000;

export class SqliteThirdParty implements ThirdPartyMappingStore {
  constructor(private readonly db: SqliteDb) {}

  private pending(server: string, pepper: string, snapshot: string): number | null {
    const row = this.db.prepared('SELECT generation FROM tp_snapshots WHERE server = ? AND pepper = ? AND snapshot = ? AND active = 0')
      .get(server, pepper, snapshot) as Row | undefined;
    return row ? row.generation as number : null;
  }

  private drop(generations: number[]): void {
    for (const generation of generations) {
      this.db.prepared('DELETE FROM tp_hashes WHERE generation = ?').run(generation);
      this.db.prepared('DELETE FROM tp_chunks WHERE generation = ?').run(generation);
      this.db.prepared('DELETE FROM tp_snapshots WHERE generation = ?').run(generation);
    }
  }

  private generations(where: string, ...values: unknown[]): number[] {
    return (this.db.prepared(`SELECT generation FROM tp_snapshots WHERE ${where}`).all(...values) as Row[]).map((r) => r.generation as number);
  }

  async begin(server: string, pepper: string, snapshot: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.pending(server, pepper, snapshot) !== null) return true;
      if (this.generations('server = ? AND pepper = ? AND snapshot = ? AND active = 1', server, pepper, snapshot).length > 0) return false;
      this.drop(this.generations('server = ? AND pepper = ? AND active = 0', server, pepper));
      this.db.prepared('INSERT INTO tp_snapshots (server, pepper, snapshot) VALUES (?, ?, ?)').run(server, pepper, snapshot);
      return true;
    });
  }

  async write(server: string, pepper: string, snapshot: string, chunk: number, hashes: string[]): Promise<number | null> {
    return this.db.transaction(() => {
      const generation = this.pending(server, pepper, snapshot);
      if (generation === null) return null;
      const insert = this.db.prepared('INSERT OR IGNORE INTO tp_hashes (generation, hash) VALUES (?, ?)');
      for (const hash of hashes) insert.run(generation, hash);
      this.db.prepared('INSERT OR IGNORE INTO tp_chunks (generation, chunk) VALUES (?, ?)').run(generation, chunk);
      return this.chunkCount(generation);
    });
  }

  async commit(server: string, pepper: string, snapshot: string, chunks: number, at: number): Promise<CommitResult> {
    return this.db.transaction(() => {
      const generation = this.pending(server, pepper, snapshot);
      if (generation === null) return 'unknown';
      const below = (this.db.prepared('SELECT count(*) AS n FROM tp_chunks WHERE generation = ? AND chunk < ?').get(generation, chunks) as Row).n as number;
      if (below !== chunks || this.chunkCount(generation) !== chunks) return 'incomplete';
      this.drop(this.generations('server = ? AND pepper = ? AND active = 1', server, pepper));
      this.db.prepared('DELETE FROM tp_chunks WHERE generation = ?').run(generation);
      this.db.prepared('UPDATE tp_snapshots SET active = 1, pushed_at = ? WHERE generation = ?').run(at, generation);
      return 'committed';
    });
  }

  private chunkCount(generation: number): number {
    return (this.db.prepared('SELECT count(*) AS n FROM tp_chunks WHERE generation = ?').get(generation) as Row).n as number;
  }

  async *visibleHashes(server: string, pepper: string): AsyncIterable<string[]> {
    const [generation] = this.generations('server = ? AND pepper = ? AND active = 1', server, pepper);
    if (generation === undefined) return;
    const page = this.db.prepared('SELECT hash FROM tp_hashes WHERE generation = ? AND hash > ? ORDER BY hash LIMIT ?');
    for (let after = '';;) {
      const hashes = (page.all(generation, after, READ_BATCH) as Row[]).map((r) => r.hash as string);
      if (hashes.length > 0) yield hashes;
      if (hashes.length < READ_BATCH) return;
      after = hashes[hashes.length - 1];
    }
  }

  async lookup(pepper: string, hashes: string[]): Promise<Record<string, string[]>> {
    const byServer = new Map<string, string[]>();
    for (const chunk of chunks(unique(hashes))) {
      const rows = this.db.prepared(`SELECT s.server, h.hash FROM tp_hashes h JOIN tp_snapshots s ON s.generation = h.generation
        WHERE s.pepper = ? AND s.active = 1 AND h.hash IN (${placeholders(chunk.length)})`).all(pepper, ...chunk) as Row[];
      hashesByServer(rows, byServer);
    }
    return Object.fromEntries(byServer);
  }

  async members(): Promise<MemberState[]> {
    const rows = this.db.prepared(`SELECT s.server, s.pepper, s.snapshot, s.pushed_at, (SELECT count(*) FROM tp_hashes h WHERE h.generation = s.generation) AS size
      FROM tp_snapshots s WHERE s.active = 1 ORDER BY s.server, s.pepper`).all() as Row[];
    return rows.map((r) => ({ server: r.server, pepper: r.pepper, snapshot: r.snapshot, pushedAt: r.pushed_at, size: r.size }));
  }

  async dropServer(server: string): Promise<void> {
    this.db.transaction(() => this.drop(this.generations('server = ?', server)));
  }

  async retainPeppers(peppers: string[]): Promise<void> {
    const keep = new Set(peppers);
    const stale = (this.db.prepared('SELECT generation, pepper FROM tp_snapshots').all() as Row[])
      .filter((r) => !keep.has(r.pepper)).map((r) => r.generation as number);
    this.db.transaction(() => this.drop(stale));
  }
}
