/**
 * The PostgreSQL connection pool the area files share (`pg`). Every value is a bound parameter
 * ($1, $2…), checked to be text, a number, a boolean, null or a list of those: an object a
 * caller let through is refused, never stored as its JSON. The only SQL built at run time is
 * identifiers unisd makes itself (quoteIdent, hash table partitions named by number).
 */
import pg from 'pg';

export type Row = Record<string, any>;
export type Param = string | number | boolean | null | string[] | number[];

/** What runs a statement: the pool, or one client inside a transaction. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly Param[]): Promise<R[]>;
  /** Runs `sql` and returns how many rows it changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
}

export interface PgOptions {
  uri: string;
  /** The schema holding unisd's tables (the connections' search_path). */
  schema: string;
  maxConnections: number;
  /** ms */
  connectionTimeout: number;
  /** ms */
  idleTimeout: number;
}

const INT8_OID = 20;

/** An SQL identifier, quoted (a schema name from the configuration). */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function checkParams(params: readonly unknown[]): void {
  for (const value of params) {
    const ok = value === null || ['string', 'number', 'boolean'].includes(typeof value)
      || (Array.isArray(value) && value.every((item) => typeof item === 'string' || typeof item === 'number'));
    if (!ok) throw new TypeError('a query parameter must be text, a number, a boolean, null or a list of text or numbers');
  }
}

/** One pooled connection, held for a statement or a transaction. */
class Connection implements Queryable {
  /** Set when it is in an unknown state (a rollback failed): it is closed instead of going back to the pool. */
  broken = false;
  constructor(private readonly client: pg.PoolClient) {}
  async query<R extends Row = Row>(sql: string, params: readonly Param[] = []): Promise<R[]> {
    checkParams(params);
    return (await this.client.query<R>(sql, params as unknown[])).rows;
  }
  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    checkParams(params);
    return (await this.client.query(sql, params as unknown[])).rowCount ?? 0;
  }
}

/**
 * Each connection, before its first use, gets unisd's schema as its search_path and, should the
 * server or the URI have turned it off, synchronous_commit back on: a write answered is
 * committed to disk (stronger server settings, such as remote_apply, are kept).
 */
const SESSION_SETUP = `SELECT set_config('search_path', $1, false),
  CASE WHEN current_setting('synchronous_commit') = 'off' THEN set_config('synchronous_commit', 'on', false) END`;

export class PgDb implements Queryable {
  private readonly ready = new WeakSet<pg.PoolClient>();

  constructor(readonly pool: pg.Pool, readonly schema: string) {}

  /** A connection held until released (transactions, session-level work: advisory locks, LISTEN). */
  async connect(): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    if (!this.ready.has(client)) {
      try {
        await client.query(SESSION_SETUP, [quoteIdent(this.schema)]);
      } catch (error) {
        client.release(true);
        throw error;
      }
      this.ready.add(client);
    }
    return client;
  }

  private async on<T>(work: (connection: Connection) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const connection = new Connection(client);
    try {
      return await work(connection);
    } finally {
      // A connection that was lost is not reused either: the pool checks it is still usable.
      client.release(connection.broken);
    }
  }

  query<R extends Row = Row>(sql: string, params: readonly Param[] = []): Promise<R[]> {
    checkParams(params);
    return this.on((c) => c.query<R>(sql, params));
  }

  run(sql: string, params: readonly Param[] = []): Promise<number> {
    checkParams(params);
    return this.on((c) => c.run(sql, params));
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.on(async (tx) => {
      await tx.run('BEGIN');
      try {
        const result = await work(tx);
        await tx.run('COMMIT');
        return result;
      } catch (error) {
        await tx.run('ROLLBACK').catch(() => { tx.broken = true; });
        throw error;
      }
    });
  }

  /** Ends the pool (again: nothing). */
  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/** The pool; connections are made as needed, up to maxConnections. */
export function createPool(options: PgOptions): PgDb {
  const pool = new pg.Pool({
    connectionString: options.uri,
    max: options.maxConnections,
    connectionTimeoutMillis: options.connectionTimeout,
    idleTimeoutMillis: options.idleTimeout,
    application_name: 'unisd',
    // bigint columns hold milliseconds and counts, all within Number's safe range.
    types: { getTypeParser: ((oid: number, format?: string) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
  });
  // An idle connection the server closed (restart, idle timeout) is dropped by the pool; without
  // a listener its error would end the process.
  pool.on('error', () => {});
  return new PgDb(pool, options.schema);
}
