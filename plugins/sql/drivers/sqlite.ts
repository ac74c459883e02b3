/**
 * SQLite (a Synapse homeserver.db, or any file) through `better-sqlite3`, read-only. Its calls
 * are synchronous and short (one indexed statement), so the deadline is checked before each;
 * the hash source reads through its own connection (a connection iterating a result can run
 * nothing else) and checks the deadline between batches.
 */
import Database from 'better-sqlite3';
import { inBatches, type DriverOptions, type Row, type SqlDriver } from '../driver.js';

/**
 * How long a statement waits for a writer's lock (ms). better-sqlite3 waits synchronously,
 * stalling every request, so it is short: a busy database fails the call, and the registry
 * answers without it. (Synapse runs SQLite in WAL mode, where readers do not wait for writers.)
 */
const BUSY_TIMEOUT = 50;

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite';
  private readonly path: string;
  private db: Database.Database | undefined;

  constructor(options: DriverOptions) {
    this.path = options.connection.trim().replace(/^jdbc:sqlite:/, '');
  }

  async query(sql: string, params: readonly string[], signal: AbortSignal): Promise<Row[]> {
    signal.throwIfAborted();
    this.db ??= this.open();
    return this.db.prepare(sql).all(...params) as Row[];
  }

  async *stream(sql: string, batchSize: number, signal: AbortSignal): AsyncIterable<Row[]> {
    signal.throwIfAborted();
    const db = this.open();
    try {
      yield* inBatches(db.prepare(sql).iterate(), batchSize, signal);
    } finally {
      db.close();
    }
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }

  private open(): Database.Database {
    return new Database(this.path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT });
  }
}
