/**
 * The change log in PostgreSQL. A sequence numbers the records; appends take a transaction-level
 * advisory lock, so they commit one after another in seq order and a reader never sees a seq
 * before a lower one that is still to commit. Each append NOTIFYs on commit; a watcher LISTENs
 * on a connection of its own (not the pool's), which it reopens when it drops, waking the reader
 * then too (notifications sent meanwhile are lost: the reader catches up by reading).
 */
import pg from 'pg';
import type { ChangeLog, ChangeRecord, StoreChange } from '../ports/changes.js';

export const CHANGES_SCHEMA = `
CREATE SEQUENCE IF NOT EXISTS changes_seq;
CREATE TABLE IF NOT EXISTS changes (seq BIGINT PRIMARY KEY, origin TEXT NOT NULL, change TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at);
`;

/** The NOTIFY channel, and the advisory lock key appends serialise on ('unisd:changes'). */
const CHANNEL = 'unisd_changes';
const APPEND_LOCK = 0x756e6973;
/** Wait before reconnecting a LISTEN connection that dropped (readers poll meanwhile). */
const RECONNECT_MS = 1000;

export class PostgresChanges implements ChangeLog {
  private readonly watchers = new Set<() => void>();

  /** `listener`: a new client for LISTEN, on the pool's database. */
  constructor(private readonly pool: pg.Pool, private readonly listener: () => pg.Client) {}

  async append(origin: string, change: StoreChange, at: number): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      const { rows } = await client.query<{ seq: string }>(
        "INSERT INTO changes (seq, origin, change, at) VALUES (nextval('changes_seq'), $1, $2, $3) RETURNING seq", [origin, JSON.stringify(change), at]);
      await client.query(`NOTIFY ${CHANNEL}`);
      await client.query('COMMIT');
      for (const wake of this.watchers) wake();
      return Number(rows[0].seq);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async readAfter(after: number, limit: number): Promise<ChangeRecord[]> {
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<{ seq: string; origin: string; change: string; at: string }>(
      'SELECT seq, origin, change, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit]);
    return rows.map((r) => ({ seq: Number(r.seq), origin: r.origin, change: JSON.parse(r.change), at: Number(r.at) }));
  }

  async latest(): Promise<number> {
    // Taken under the append lock: no append is between its seq and its commit.
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      const { rows } = await client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM changes');
      await client.query('COMMIT');
      return Number(rows[0].seq ?? 0);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async watch(wake: () => void): Promise<() => Promise<void>> {
    const own = () => wake();
    this.watchers.add(own);
    let client: pg.Client | null = null;
    let retry: NodeJS.Timeout | null = null;
    let stopped = false;
    const reconnect = () => {
      if (stopped || retry) return;
      retry = setTimeout(() => { retry = null; void listen().then(own, reconnect); }, RECONNECT_MS);
      retry.unref();
    };
    const listen = async () => {
      const next = this.listener();
      client = next;
      next.on('notification', own);
      // Only the current connection's loss matters (an old one's late events are ignored).
      const lost = () => { if (client === next) { client = null; void next.end().catch(() => {}); reconnect(); } };
      next.on('error', lost);
      next.on('end', lost);
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
    };
    try {
      await listen();
    } catch {
      reconnect();
    }
    return async () => {
      stopped = true;
      this.watchers.delete(own);
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => {});
    };
  }

  async deleteBefore(t: number): Promise<void> {
    await this.pool.query('DELETE FROM changes WHERE at < $1', [t]);
  }
}
