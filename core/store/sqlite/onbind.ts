/** The 3pid/onbind delivery queue in SQLite. */
import type { OnbindDelivery, OnbindStore } from '../ports/onbind.js';
import { toOnbind } from '../sql-rows.js';
import type { ThreePid } from '../ports/threepid.js';
import type { Row, SqliteDb } from './db.js';

export class SqliteOnbind implements OnbindStore {
  constructor(private readonly db: SqliteDb) {}

  async enqueue(d: OnbindDelivery): Promise<void> {
    this.db.prepared('INSERT INTO onbind_queue (id, destination, body, attempts, next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(d.id, d.destination, JSON.stringify(d.body), d.attempts, d.nextAttemptAt, d.lastError, d.createdAt);
  }

  async due(now: number, limit: number): Promise<OnbindDelivery[]> {
    if (limit <= 0) return []; // a negative LIMIT would mean no limit
    return (this.db.prepared('SELECT * FROM onbind_queue WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?').all(now, limit) as Row[]).map(toOnbind);
  }

  async claim(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]> {
    if (limit <= 0) return [];
    const rows = this.db.prepared(`UPDATE onbind_queue SET next_attempt_at = ? WHERE id IN
      (SELECT id FROM onbind_queue WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?) RETURNING *`).all(leaseUntil, now, limit) as Row[];
    return rows.map(toOnbind).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<OnbindDelivery | null> {
    const row = this.db.prepared('SELECT * FROM onbind_queue WHERE id = ?').get(id) as Row | undefined;
    return row ? toOnbind(row) : null;
  }

  async deleteConcerning(filter: { mxid?: string; threepid?: ThreePid }): Promise<number> {
    if (filter.mxid === undefined && !filter.threepid) throw new Error('deleteConcerning needs a Matrix ID or a 3PID');
    // The body is JSON text; json_extract reads its fields (a missing one is NULL and matches nothing).
    return this.db.prepared(`DELETE FROM onbind_queue WHERE json_extract(body, '$.mxid') = ?
      OR (json_extract(body, '$.medium') = ? AND json_extract(body, '$.address') = ?)`)
      .run(filter.mxid ?? null, filter.threepid?.medium ?? null, filter.threepid?.address ?? null).changes;
  }

  async reschedule(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    this.db.prepared('UPDATE onbind_queue SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?').run(attempts, nextAttemptAt, lastError, id);
  }

  async delete(id: string): Promise<void> {
    this.db.prepared('DELETE FROM onbind_queue WHERE id = ?').run(id);
  }

  async count(): Promise<number> {
    return (this.db.prepared('SELECT count(*) AS n FROM onbind_queue').get() as { n: number }).n;
  }
}
