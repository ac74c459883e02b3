/** Pending invites and ephemeral keys in PostgreSQL. */
import type { Medium } from '../ports/threepid.js';
import type { InviteStore, PendingInvite } from '../ports/invites.js';
import type { PgDb, Row } from './db.js';

const toInvite = (r: Row): PendingInvite => ({
  token: r.token, medium: r.medium, address: r.address, roomId: r.room_id, sender: r.sender, fields: JSON.parse(r.fields),
  ephemeralPublicKey: r.ephemeral_public_key, createdAt: r.created_at, expiresAt: r.expires_at, deliveredAt: r.delivered_at,
});

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
