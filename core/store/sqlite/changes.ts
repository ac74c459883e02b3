/**
 * The change log in SQLite. Writes are serialised by SQLite itself, so a record commits in seq
 * order; AUTOINCREMENT never hands out a seq again after a purge. Processes sharing the file
 * (server.workers) have no notification channel: they poll. Watchers of this same store object
 * are woken at once.
 */
import type { ChangeLog, ChangeRecord, StoreChange } from '../ports/changes.js';
import type { Row, SqliteDb } from './db.js';

export const CHANGES_SCHEMA = `
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, change TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at);
`;

export class SqliteChanges implements ChangeLog {
  private readonly watchers = new Set<() => void>();

  constructor(private readonly db: SqliteDb) {}

  async append(origin: string, change: StoreChange, at: number): Promise<number> {
    const { lastInsertRowid } = this.db.prepared('INSERT INTO changes (origin, change, at) VALUES (?, ?, ?)').run(origin, JSON.stringify(change), at);
    for (const wake of this.watchers) wake();
    return Number(lastInsertRowid);
  }

  async readAfter(after: number, limit: number): Promise<ChangeRecord[]> {
    if (limit <= 0) return [];
    const rows = this.db.prepared('SELECT seq, origin, change, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?').all(after, limit) as Row[];
    return rows.map((r) => ({ seq: r.seq, origin: r.origin, change: JSON.parse(r.change), at: r.at }));
  }

  async latest(): Promise<number> {
    const row = this.db.prepared("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  async watch(wake: () => void): Promise<() => Promise<void>> {
    const own = () => wake();
    this.watchers.add(own);
    return async () => { this.watchers.delete(own); };
  }

  async deleteBefore(t: number): Promise<void> {
    this.db.prepared('DELETE FROM changes WHERE at < ?').run(t);
  }
}
