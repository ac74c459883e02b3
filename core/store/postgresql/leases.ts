/** Leases in PostgreSQL: one row per lease, taken by an upsert that only wins over an expired or own row. */
import type { LeaseStore } from '../ports/leases.js';
import type { PgDb } from './db.js';

/** Migration 2's table (./migrations.ts). */
export const LEASES_SCHEMA = `
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL);
`;

export class PgLeases implements LeaseStore {
  constructor(private readonly db: PgDb) {}

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    // Concurrent upserts of one name serialise on its row: the second sees the first's holder and expiry.
    const changed = await this.db.run(`INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
      WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= $4`, [name, holder, now + ttlMs, now]);
    return changed === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }
}
