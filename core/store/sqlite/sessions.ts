/** Validation sessions in SQLite. */
import type { Medium } from '../ports/threepid.js';
import type { SessionChanges, SessionStore, ValidationSession } from '../ports/sessions.js';
import { SESSION_COLUMNS, toSession } from '../sql-rows.js';
import type { Row, SqliteDb } from './db.js';

export class SqliteSessions implements SessionStore {
  constructor(private readonly db: SqliteDb) {}

  async create(s: ValidationSession): Promise<void> {
    this.db.prepared(`INSERT INTO sessions (sid, medium, address, client_secret, token_hash, send_attempt, next_link, created_at, updated_at, validated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(s.sid, s.medium, s.address, s.clientSecret, s.tokenHash, s.sendAttempt, s.nextLink, s.createdAt, s.updatedAt, s.validatedAt);
  }

  async get(sid: string): Promise<ValidationSession | null> {
    const row = this.db.prepared('SELECT * FROM sessions WHERE sid = ?').get(sid) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async find(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null> {
    const row = this.db.prepared('SELECT * FROM sessions WHERE medium = ? AND address = ? AND client_secret = ?').get(medium, address, clientSecret) as Row | undefined;
    return row ? toSession(row) : null;
  }

  async update(sid: string, changes: SessionChanges): Promise<void> {
    const entries = (Object.keys(SESSION_COLUMNS) as Array<keyof SessionChanges>)
      .filter((key) => changes[key] !== undefined)
      .map((key) => [SESSION_COLUMNS[key], changes[key]] as const);
    if (entries.length === 0) return;
    const sets = entries.map(([column]) => `${column} = ?`).join(', ');
    this.db.prepared(`UPDATE sessions SET ${sets} WHERE sid = ?`).run(...entries.map(([, value]) => value), sid);
  }

  async delete(sid: string): Promise<void> {
    this.db.prepared('DELETE FROM sessions WHERE sid = ?').run(sid);
  }

  async deleteFor(medium: Medium, address: string): Promise<number> {
    return this.db.prepared('DELETE FROM sessions WHERE medium = ? AND address = ?').run(medium, address).changes;
  }

  async deleteBefore(before: number): Promise<number> {
    return this.db.prepared('DELETE FROM sessions WHERE updated_at < ?').run(before).changes;
  }
}
