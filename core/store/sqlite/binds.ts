/** Binds (associations) in SQLite. */
import type { Medium, ThreePid } from '../ports/threepid.js';
import type { Association, BindStore } from '../ports/binds.js';
import { CHUNK, chunks, type Row, type SqliteDb } from './db.js';

const toAssociation = (r: Row): Association => ({
  medium: r.medium, address: r.address, mxid: r.mxid, ts: r.ts, notBefore: r.not_before, notAfter: r.not_after, signed: JSON.parse(r.signed),
});

export class SqliteBinds implements BindStore {
  constructor(private readonly db: SqliteDb) {}

  async put(a: Association): Promise<void> {
    this.db.prepared(`INSERT OR REPLACE INTO associations (medium, address, mxid, ts, not_before, not_after, signed) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(a.medium, a.address, a.mxid, a.ts, a.notBefore, a.notAfter, JSON.stringify(a.signed));
  }

  async get(medium: Medium, address: string): Promise<Association | null> {
    const row = this.db.prepared('SELECT * FROM associations WHERE medium = ? AND address = ?').get(medium, address) as Row | undefined;
    return row ? toAssociation(row) : null;
  }

  async getMany(threepids: ThreePid[]): Promise<Association[]> {
    const out: Association[] = [];
    const distinct = [...new Map(threepids.map((t) => [JSON.stringify([t.medium, t.address]), t])).values()];
    // Each 3PID takes two values, so half a chunk of them per statement.
    for (const chunk of chunks(distinct, CHUNK / 2)) {
      const pairs = chunk.map(() => '(?, ?)').join(',');
      const rows = this.db.prepared(`SELECT * FROM associations WHERE (medium, address) IN (VALUES ${pairs})`)
        .all(...chunk.flatMap((t) => [t.medium, t.address])) as Row[];
      out.push(...rows.map(toAssociation));
    }
    return out;
  }

  async delete(medium: Medium, address: string, mxid: string): Promise<boolean> {
    return this.db.prepared('DELETE FROM associations WHERE medium = ? AND address = ? AND mxid = ?').run(medium, address, mxid).changes > 0;
  }

  async *stream(): AsyncIterable<Association> {
    // Pages by primary key, so the iteration holds no read transaction across the consumer's awaits.
    const first = this.db.prepared('SELECT * FROM associations ORDER BY medium, address LIMIT 1000');
    const next = this.db.prepared('SELECT * FROM associations WHERE (medium, address) > (?, ?) ORDER BY medium, address LIMIT 1000');
    let rows = first.all() as Row[];
    while (rows.length > 0) {
      for (const row of rows) yield toAssociation(row);
      const last = rows[rows.length - 1];
      rows = next.all(last.medium, last.address) as Row[];
    }
  }
}
