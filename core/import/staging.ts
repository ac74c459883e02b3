/**
 * The import's scratch space: a throwaway SQLite file where the source's rows wait, validated,
 * normalised and de-duplicated (the newest bind of a 3PID wins), and where each is marked new,
 * unchanged or conflicting against the target store. It lets a source of millions of rows be
 * checked whole before anything is written, in constant memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type Status = 'new' | 'unchanged' | 'conflict';

const SCHEMA = `
CREATE TABLE binds (medium TEXT NOT NULL, address TEXT NOT NULL, ts INTEGER NOT NULL, ref TEXT NOT NULL, data TEXT NOT NULL,
  status TEXT, PRIMARY KEY (medium, address)) WITHOUT ROWID;
CREATE TABLE items (area TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, status TEXT, PRIMARY KEY (area, key)) WITHOUT ROWID;
`;

export class Staging {
  private readonly dir = mkdtempSync(join(tmpdir(), 'unisd-import-'));
  readonly db = new Database(join(this.dir, 'staging.db'));

  private readonly statements = new Map<string, Database.Statement>();

  constructor() {
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(SCHEMA);
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Stages a bind unless a newer one of the same 3PID is there. Returns the ref of the row that
   * lost (this one or the one it replaced), or null when there was none.
   */
  stageBind(medium: string, address: string, ts: number, ref: string, data: unknown): string | null {
    const existing = this.prepared('SELECT ts, ref FROM binds WHERE medium = ? AND address = ?').get(medium, address) as { ts: number; ref: string } | undefined;
    if (existing && existing.ts >= ts) return ref;
    this.prepared('INSERT OR REPLACE INTO binds (medium, address, ts, ref, data) VALUES (?, ?, ?, ?, ?)').run(medium, address, ts, ref, JSON.stringify(data));
    return existing ? existing.ref : null;
  }

  /** Stages one item of an area (invites, tokens…) under its key; the first of a key is kept. False when the key was there. */
  stageItem(area: string, key: string, data: unknown): boolean {
    return this.prepared('INSERT OR IGNORE INTO items (area, key, data) VALUES (?, ?, ?)').run(area, key, JSON.stringify(data)).changes > 0;
  }

  /** Runs `work` in one transaction (staging rows one by one outside one is slow). */
  batch(work: () => void): void {
    this.db.transaction(work)();
  }

  /** Staged binds in pages of `size`, in key order. */
  *bindPages<T>(size: number): Generator<Array<T & { status: Status | null }>> {
    const first = this.prepared('SELECT medium, address, data, status FROM binds ORDER BY medium, address LIMIT ?');
    const next = this.prepared('SELECT medium, address, data, status FROM binds WHERE (medium, address) > (?, ?) ORDER BY medium, address LIMIT ?');
    let rows = first.all(size) as Array<{ medium: string; address: string; data: string; status: Status | null }>;
    while (rows.length > 0) {
      yield rows.map((r) => ({ ...JSON.parse(r.data), status: r.status }));
      const last = rows[rows.length - 1]!;
      rows = next.all(last.medium, last.address, size) as typeof rows;
    }
  }

  *itemPages<T>(area: string, size: number): Generator<Array<T & { key: string; status: Status | null }>> {
    const statement = this.prepared('SELECT key, data, status FROM items WHERE area = ? AND key > ? ORDER BY key LIMIT ?');
    let rows = statement.all(area, '', size) as Array<{ key: string; data: string; status: Status | null }>;
    while (rows.length > 0) {
      yield rows.map((r) => ({ ...JSON.parse(r.data), key: r.key, status: r.status }));
      rows = statement.all(area, rows[rows.length - 1]!.key, size) as typeof rows;
    }
  }

  markBinds(marks: Array<{ medium: string; address: string; status: Status }>): void {
    const update = this.prepared('UPDATE binds SET status = ? WHERE medium = ? AND address = ?');
    this.batch(() => { for (const m of marks) update.run(m.status, m.medium, m.address); });
  }

  markItems(area: string, marks: Array<{ key: string; status: Status }>): void {
    const update = this.prepared('UPDATE items SET status = ? WHERE area = ? AND key = ?');
    this.batch(() => { for (const m of marks) update.run(m.status, area, m.key); });
  }

  /** Staged entries of an area by status ('binds' for binds). */
  counts(area: string): Record<Status, number> {
    const rows = (area === 'binds'
      ? this.prepared('SELECT status, count(*) AS n FROM binds GROUP BY status').all()
      : this.prepared('SELECT status, count(*) AS n FROM items WHERE area = ? GROUP BY status').all(area)) as Array<{ status: Status; n: number }>;
    const out: Record<Status, number> = { new: 0, unchanged: 0, conflict: 0 };
    for (const r of rows) if (r.status) out[r.status] = r.n;
    return out;
  }

  /** Refs of the conflicting binds (for the report), in key order. */
  *conflictingBindRefs(): Generator<string> {
    for (const row of this.prepared("SELECT ref FROM binds WHERE status = 'conflict' ORDER BY medium, address").iterate()) yield (row as { ref: string }).ref;
  }

  close(): void {
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
