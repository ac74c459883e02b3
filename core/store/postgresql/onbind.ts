/** The 3pid/onbind delivery queue in PostgreSQL. */
import type { OnbindDelivery, OnbindStore } from '../ports/onbind.js';
import { toOnbind } from '../sql-rows.js';
import type { ThreePid } from '../ports/threepid.js';
import type { PgDb } from './db.js';

export class PgOnbind implements OnbindStore {
  constructor(private readonly db: PgDb) {}

  async enqueue(d: OnbindDelivery): Promise<void> {
    await this.db.run(`INSERT INTO onbind_queue (id, destination, body, attempts, next_attempt_at, last_error, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
    [d.id, d.destination, JSON.stringify(d.body), d.attempts, d.nextAttemptAt, d.lastError, d.createdAt]);
  }

  async due(now: number, limit: number): Promise<OnbindDelivery[]> {
    if (limit <= 0) return [];
    return (await this.db.query('SELECT * FROM onbind_queue WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, created_at, id COLLATE "C" LIMIT $2', [now, limit])).map(toOnbind);
  }

  async claim(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]> {
    if (limit <= 0) return [];
    // SKIP LOCKED: instances claiming at once take different deliveries instead of waiting on
    // each other's rows; one statement, so a claim is all or nothing.
    const rows = await this.db.query(`UPDATE onbind_queue SET next_attempt_at = $1 WHERE id IN (
      SELECT id FROM onbind_queue WHERE next_attempt_at <= $2 ORDER BY next_attempt_at, created_at, id COLLATE "C" LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING *`, [leaseUntil, now, limit]);
    return rows.map(toOnbind).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async get(id: string): Promise<OnbindDelivery | null> {
    const [row] = await this.db.query('SELECT * FROM onbind_queue WHERE id = $1', [id]);
    return row ? toOnbind(row) : null;
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    await this.db.run('UPDATE onbind_queue SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4', [attempts, nextAttemptAt, lastError, id]);
  }

  async deleteConcerning(filter: { mxid?: string; threepid?: ThreePid }): Promise<number> {
    if (filter.mxid === undefined && !filter.threepid) throw new Error('deleteConcerning needs a Matrix ID or a 3PID');
    // The body is JSON text; a field it lacks is NULL and matches nothing.
    return this.db.run(`DELETE FROM onbind_queue WHERE body::jsonb ->> 'mxid' = $1
      OR (body::jsonb ->> 'medium' = $2 AND body::jsonb ->> 'address' = $3)`,
    [filter.mxid ?? null, filter.threepid?.medium ?? null, filter.threepid?.address ?? null]);
  }

  async delete(id: string): Promise<void> {
    await this.db.run('DELETE FROM onbind_queue WHERE id = $1', [id]);
  }

  async count(): Promise<number> {
    const [{ n }] = await this.db.query<{ n: number }>('SELECT count(*) AS n FROM onbind_queue');
    return n;
  }
}
