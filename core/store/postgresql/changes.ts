/**
 * The change log in PostgreSQL. A sequence numbers the records; appends take a transaction-level
 * advisory lock, so they commit one after another in seq order and a reader never sees a seq
 * before a lower one that is still to commit. Each append NOTIFYs on commit; a watcher LISTENs
 * on a connection of its own (outside the pool), which it reopens when it drops, waking the
 * reader then too (notifications sent meanwhile are lost: the reader catches up by reading).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ChangeLog, ChangeRecord, StoreChange } from '../ports/changes.js';
import type { PgDb } from './db.js';

/** Migration 2's table (./migrations.ts). */
export const CHANGES_SCHEMA = `
CREATE SEQUENCE changes_seq;
CREATE TABLE changes (seq BIGINT PRIMARY KEY, origin TEXT NOT NULL, change TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX changes_at ON changes (at);
`;

/** The advisory lock key space of appends ('chgs'); the second key is the schema's hash, as for migrations. */
const APPEND_LOCK = 0x63686773;
/** Wait before reconnecting a LISTEN connection that dropped (readers poll meanwhile). */
const RECONNECT_MS = 1000;

export class PgChanges implements ChangeLog {
  private readonly watchers = new Set<() => void>();
  /** One channel per schema (a channel name is at most 63 bytes; a schema name may be that long). */
  private readonly channel: string;

  /** `listener`: a new client, outside the pool, on the same database. */
  constructor(private readonly db: PgDb, private readonly listener: () => pg.Client) {
    this.channel = `unisd_changes_${createHash('sha256').update(db.schema).digest('hex').slice(0, 16)}`;
  }

  async append(origin: string, change: StoreChange, at: number): Promise<number> {
    const seq = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [APPEND_LOCK, this.db.schema]);
      const [row] = await tx.query<{ seq: number }>(
        "INSERT INTO changes (seq, origin, change, at) VALUES (nextval('changes_seq'), $1, $2, $3) RETURNING seq", [origin, JSON.stringify(change), at]);
      await tx.query('SELECT pg_notify($1, NULL)', [this.channel]); // delivered at commit
      return row.seq;
    });
    for (const wake of this.watchers) wake();
    return seq;
  }

  async readAfter(after: number, limit: number): Promise<ChangeRecord[]> {
    if (limit <= 0) return [];
    const rows = await this.db.query<{ seq: number; origin: string; change: string; at: number }>(
      'SELECT seq, origin, change, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit]);
    return rows.map((r) => ({ seq: r.seq, origin: r.origin, change: JSON.parse(r.change), at: r.at }));
  }

  async latest(): Promise<number> {
    // Under the append lock: no append is between drawing its seq and committing.
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [APPEND_LOCK, this.db.schema]);
      const [row] = await tx.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM changes');
      return row.seq ?? 0;
    });
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
      const lost = () => {
        if (client !== next) return;
        client = null;
        void next.end().catch(() => {});
        reconnect();
      };
      next.on('error', lost);
      next.on('end', lost);
      await next.connect();
      await next.query(`LISTEN ${this.channel}`);
    };
    await listen().catch(reconnect);
    return async () => {
      stopped = true;
      this.watchers.delete(own);
      if (retry) clearTimeout(retry);
      const last = client;
      client = null;
      await last?.end().catch(() => {});
    };
  }

  async deleteBefore(t: number): Promise<void> {
    await this.db.run('DELETE FROM changes WHERE at < $1', [t]);
  }
}
