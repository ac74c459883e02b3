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

async function runOn<R extends Row>(client: pg.Pool | pg.PoolClient, sql: string, params: readonly Param[]): Promise<pg.QueryResult<R>> {
  checkParams(params);
  return client.query<R>(sql, params as unknown[]);
}

class On implements Queryable {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}
  async query<R extends Row = Row>(sql: string, params: readonly Param[] = []): Promise<R[]> {
    return (await runOn<R>(this.client, sql, params)).rows;
  }
  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    return (await runOn(this.client, sql, params)).rowCount ?? 0;
  }
}

export class PgDb extends On {
  readonly schema: string;

  constructor(readonly pool: pg.Pool, schema: string) {
    super(pool);
    this.schema = schema;
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(new On(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** A connection held until released (session-level work: advisory locks, LISTEN). */
  connect(): Promise<pg.PoolClient> {
    return this.pool.connect();
  }

  /** Ends the pool (again: nothing). */
  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/**
 * The pool. Each connection gets unisd's schema as its search_path and, should the server or
 * the URI have turned it off, synchronous_commit back on: a write answered is committed to disk
 * (stronger server settings, such as remote_apply, are kept).
 */
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
  pool.on('connect', (client) => {
    // Queued ahead of any query the connection is taken for; should it fail, the connection is
    // ended, so that query fails too rather than run in another schema.
    client.query(`SELECT set_config('search_path', $1, false),
      CASE WHEN current_setting('synchronous_commit') = 'off' THEN set_config('synchronous_commit', 'on', false) END`, [quoteIdent(options.schema)])
      .catch(() => { void client.end(); });
  });
  return new PgDb(pool, options.schema);
}
