/** Validation sessions in PostgreSQL. */
import type { Medium } from '../ports/threepid.js';
import type { SessionChanges, SessionStore, ValidationSession } from '../ports/sessions.js';
import { SESSION_COLUMNS, toSession } from '../sql-rows.js';
import type { PgDb } from './db.js';

export class PgSessions implements SessionStore {
  constructor(private readonly db: PgDb) {}

  async create(s: ValidationSession): Promise<void> {
    await this.db.run(`INSERT INTO sessions (sid, medium, address, client_secret, token_hash, send_attempt, next_link, created_at, updated_at, validated_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [s.sid, s.medium, s.address, s.clientSecret, s.tokenHash, s.sendAttempt, s.nextLink, s.createdAt, s.updatedAt, s.validatedAt]);
  }

  async get(sid: string): Promise<ValidationSession | null> {
    const [row] = await this.db.query('SELECT * FROM sessions WHERE sid = $1', [sid]);
    return row ? toSession(row) : null;
  }

  async find(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null> {
    const [row] = await this.db.query('SELECT * FROM sessions WHERE medium = $1 AND address = $2 AND client_secret = $3', [medium, address, clientSecret]);
    return row ? toSession(row) : null;
  }

  async update(sid: string, changes: SessionChanges): Promise<void> {
    const entries = (Object.keys(SESSION_COLUMNS) as Array<keyof SessionChanges>)
      .filter((key) => changes[key] !== undefined)
      .map((key) => [SESSION_COLUMNS[key], changes[key] ?? null] as const);
    if (entries.length === 0) return;
    const sets = entries.map(([column], i) => `${column} = $${i + 2}`).join(', ');
    await this.db.run(`UPDATE sessions SET ${sets} WHERE sid = $1`, [sid, ...entries.map(([, value]) => value)]);
  }

  async delete(sid: string): Promise<void> {
    await this.db.run('DELETE FROM sessions WHERE sid = $1', [sid]);
  }

  async deleteFor(medium: Medium, address: string): Promise<number> {
    return this.db.run('DELETE FROM sessions WHERE medium = $1 AND address = $2', [medium, address]);
  }

  async deleteBefore(before: number): Promise<number> {
    return this.db.run('DELETE FROM sessions WHERE updated_at < $1', [before]);
  }
}
