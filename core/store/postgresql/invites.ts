/** Pending invites and ephemeral keys in PostgreSQL. */
import type { Medium } from '../ports/threepid.js';
import type { InviteFilter, InviteStore, PendingInvite } from '../ports/invites.js';
import { toInvite } from '../sql-rows.js';
import type { PgDb } from './db.js';

/** The WHERE clause of an InviteFilter (fixed column names, numbered parameters) and its values. */
function matching(filter: InviteFilter): { where: string; values: string[] } {
  const conditions: string[] = [];
  const values: string[] = [];
  if (filter.threepid) {
    values.push(filter.threepid.medium, filter.threepid.address);
    conditions.push(`medium = $${values.length - 1} AND address = $${values.length}`);
  }
  if (filter.sender !== undefined) {
    values.push(filter.sender);
    conditions.push(`sender = $${values.length}`);
  }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', values };
}

export class PgInvites implements InviteStore {
  constructor(private readonly db: PgDb) {}

  async put(i: PendingInvite): Promise<void> {
    await this.db.run(`INSERT INTO invites (token, medium, address, room_id, sender, fields, ephemeral_public_key, created_at, expires_at, delivered_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [i.token, i.medium, i.address, i.roomId, i.sender, JSON.stringify(i.fields), i.ephemeralPublicKey, i.createdAt, i.expiresAt, i.deliveredAt]);
  }

  async get(token: string): Promise<PendingInvite | null> {
    const [row] = await this.db.query('SELECT * FROM invites WHERE token = $1', [token]);
    return row ? toInvite(row) : null;
  }

  async find(medium: Medium, address: string, now: number): Promise<PendingInvite[]> {
    const rows = await this.db.query(`SELECT * FROM invites WHERE medium = $1 AND address = $2 AND expires_at > $3 AND delivered_at IS NULL
      ORDER BY created_at, token COLLATE "C"`, [medium, address, now]);
    return rows.map(toInvite);
  }

  async list(filter: InviteFilter, limit: number): Promise<PendingInvite[]> {
    if (limit <= 0) return [];
    const { where, values } = matching(filter);
    return (await this.db.query(`SELECT * FROM invites ${where} ORDER BY created_at, token COLLATE "C" LIMIT $${values.length + 1}`, [...values, limit])).map(toInvite);
  }

  async deleteMatching(filter: InviteFilter): Promise<number> {
    const { where, values } = matching(filter);
    if (!where) throw new Error('deleteMatching needs a 3PID or a sender');
    return this.db.run(`DELETE FROM invites ${where}`, values);
  }

  async delete(token: string): Promise<void> {
    await this.db.run('DELETE FROM invites WHERE token = $1', [token]);
  }

  async markDelivered(tokens: string[], at: number): Promise<void> {
    if (tokens.length === 0) return;
    await this.db.run('UPDATE invites SET delivered_at = $1 WHERE token = ANY($2::text[])', [at, tokens]);
  }

  async deleteBefore(expiresBefore: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM ephemeral_keys WHERE expires_at < $1', [expiresBefore]);
      return tx.run('DELETE FROM invites WHERE expires_at < $1', [expiresBefore]);
    });
  }

  async putEphemeralKey(publicKey: string, expiresAt: number): Promise<void> {
    await this.db.run('INSERT INTO ephemeral_keys (public_key, expires_at) VALUES ($1, $2) ON CONFLICT (public_key) DO UPDATE SET expires_at = excluded.expires_at', [publicKey, expiresAt]);
  }

  async isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM ephemeral_keys WHERE public_key = $1 AND expires_at > $2', [publicKey, now])).length > 0;
  }
}
