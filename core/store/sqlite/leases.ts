/** Leases in SQLite: one row per lease, taken by an upsert that only wins over an expired or own row. */
import type { LeaseStore } from '../ports/leases.js';
import type { SqliteDb } from './db.js';

export const LEASES_SCHEMA = `
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);
`;

export class SqliteLeases implements LeaseStore {
  constructor(private readonly db: SqliteDb) {}

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const { changes } = this.db.prepared(`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
      WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`).run(name, holder, now + ttlMs, now);
    return changes === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    this.db.prepared('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }
}
