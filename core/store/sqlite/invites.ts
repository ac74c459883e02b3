/** Pending invites and ephemeral keys in SQLite. */
import type { Medium } from '../ports/threepid.js';
import type { InviteFilter, InviteStore, PendingInvite } from '../ports/invites.js';
import { toInvite } from '../sql-rows.js';
import { chunks, placeholders, type Row, type SqliteDb } from './db.js';

/** The WHERE clause of an InviteFilter (fixed column names) and its values. */
function matching(filter: InviteFilter): { where: string; values: string[] } {
  const conditions: string[] = [];
  const values: string[] = [];
  if (filter.threepid) {
    conditions.push('medium = ? AND address = ?');
    values.push(filter.threepid.medium, filter.threepid.address);
  }
  if (filter.sender !== undefined) {
    conditions.push('sender = ?');
    values.push(filter.sender);
  }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', values };
}

export class SqliteInvites implements InviteStore {
  constructor(private readonly db: SqliteDb) {}

  async put(i: PendingInvite): Promise<void> {
    this.db.prepared(`INSERT INTO invites (token, medium, address, room_id, sender, fields, ephemeral_public_key, created_at, expires_at, delivered_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(i.token, i.medium, i.address, i.roomId, i.sender, JSON.stringify(i.fields), i.ephemeralPublicKey, i.createdAt, i.expiresAt, i.deliveredAt);
  }

  async get(token: string): Promise<PendingInvite | null> {
    const row = this.db.prepared('SELECT * FROM invites WHERE token = ?').get(token) as Row | undefined;
    return row ? toInvite(row) : null;
  }

  async find(medium: Medium, address: string, now: number): Promise<PendingInvite[]> {
    const rows = this.db.prepared('SELECT * FROM invites WHERE medium = ? AND address = ? AND expires_at > ? AND delivered_at IS NULL ORDER BY created_at, token').all(medium, address, now) as Row[];
    return rows.map(toInvite);
  }

  async list(filter: InviteFilter, limit: number): Promise<PendingInvite[]> {
    if (limit <= 0) return []; // a negative LIMIT would mean no limit
    const { where, values } = matching(filter);
    return (this.db.prepared(`SELECT * FROM invites ${where} ORDER BY created_at, token LIMIT ?`).all(...values, limit) as Row[]).map(toInvite);
  }

  async deleteMatching(filter: InviteFilter): Promise<number> {
    const { where, values } = matching(filter);
    if (!where) throw new Error('deleteMatching needs a 3PID or a sender');
    return this.db.prepared(`DELETE FROM invites ${where}`).run(...values).changes;
  }

  async delete(token: string): Promise<void> {
    this.db.prepared('DELETE FROM invites WHERE token = ?').run(token);
  }

  async markDelivered(tokens: string[], at: number): Promise<void> {
    for (const chunk of chunks(tokens)) {
      this.db.prepared(`UPDATE invites SET delivered_at = ? WHERE token IN (${placeholders(chunk.length)})`).run(at, ...chunk);
    }
  }

  async deleteBefore(expiresBefore: number): Promise<number> {
    return this.db.transaction(() => {
      this.db.prepared('DELETE FROM ephemeral_keys WHERE expires_at < ?').run(expiresBefore);
      return this.db.prepared('DELETE FROM invites WHERE expires_at < ?').run(expiresBefore).changes;
    });
  }

  async putEphemeralKey(publicKey: string, expiresAt: number): Promise<void> {
    this.db.prepared('INSERT OR REPLACE INTO ephemeral_keys (public_key, expires_at) VALUES (?, ?)').run(publicKey, expiresAt);
  }

  async isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean> {
    return this.db.prepared('SELECT 1 FROM ephemeral_keys WHERE public_key = ? AND expires_at > ?').get(publicKey, now) !== undefined;
  }
}
