/**
 * The SQLite connection the area files share (better-sqlite3: synchronous underneath; the ports
 * are async so that backends are interchangeable). Every value is a bound parameter; the only
 * SQL built at run time is a list of `?` placeholders and column names from fixed tables.
 */
import type Database from 'better-sqlite3';

export type Row = Record<string, any>;

export class SqliteDb {
  /** Statements by SQL text: lookups repeat the same few IN-list lengths. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private db: Database.Database | null) {}

  get sql(): Database.Database {
    if (!this.db) throw new Error('SQLite store used after close()');
    return this.db;
  }

  prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.sql.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: () => T): T {
    return this.sql.transaction(work)();
  }

  close(): void {
    this.statements.clear();
    this.db?.close();
    this.db = null;
  }
}

/** Bulk queries go in chunks of this many bound values (SQLite caps parameters per statement). */
export const CHUNK = 500;

export function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const placeholders = (count: number): string => new Array(count).fill('?').join(',');

/** A value asked for twice would otherwise come back twice when it falls in two chunks. */
export const unique = (values: string[]): string[] => [...new Set(values)];
