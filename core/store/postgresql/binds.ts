/** Binds (associations) in PostgreSQL. */
import type { Medium, ThreePid } from '../ports/threepid.js';
import type { Association, BindStore } from '../ports/binds.js';
import type { PgDb, Row } from './db.js';

const toAssociation = (r: Row): Association => ({
  medium: r.medium, address: r.address, mxid: r.mxid, ts: r.ts, notBefore: r.not_before, notAfter: r.not_after, signed: JSON.parse(r.signed),
});

/** Rows per page of stream(). */
const PAGE = 1000;

export class PgBinds implements BindStore {
  constructor(private readonly db: PgDb) {}

  async put(a: Association): Promise<void> {
    await this.db.run(`INSERT INTO associations (medium, address, mxid, ts, not_before, not_after, signed) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (medium, address) DO UPDATE SET mxid = excluded.mxid, ts = excluded.ts, not_before = excluded.not_before,
        not_after = excluded.not_after, signed = excluded.signed`,
    [a.medium, a.address, a.mxid, a.ts, a.notBefore, a.notAfter, JSON.stringify(a.signed)]);
  }

  async get(medium: Medium, address: string): Promise<Association | null> {
    const [row] = await this.db.query('SELECT * FROM associations WHERE medium = $1 AND address = $2', [medium, address]);
    return row ? toAssociation(row) : null;
  }

  async getMany(threepids: ThreePid[]): Promise<Association[]> {
    if (threepids.length === 0) return [];
    // One statement whatever the count: two parallel arrays, joined on the primary key.
    const rows = await this.db.query(`SELECT a.* FROM associations a
      JOIN (SELECT DISTINCT medium, address FROM unnest($1::text[], $2::text[]) AS t (medium, address)) t USING (medium, address)`,
    [threepids.map((t) => t.medium), threepids.map((t) => t.address)]);
    return rows.map(toAssociation);
  }

  async delete(medium: Medium, address: string, mxid: string): Promise<boolean> {
    return await this.db.run('DELETE FROM associations WHERE medium = $1 AND address = $2 AND mxid = $3', [medium, address, mxid]) > 0;
  }

  async *stream(): AsyncIterable<Association> {
    // Pages by primary key, so the iteration holds no connection across the consumer's awaits.
    let rows = await this.db.query(`SELECT * FROM associations ORDER BY medium, address LIMIT ${PAGE}`);
    while (rows.length > 0) {
      for (const row of rows) yield toAssociation(row);
      const last = rows[rows.length - 1];
      rows = await this.db.query(`SELECT * FROM associations WHERE (medium, address) > ($1, $2) ORDER BY medium, address LIMIT ${PAGE}`, [last.medium, last.address]);
    }
  }
}
