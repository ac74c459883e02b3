/**
 * MySQL and MariaDB through `mysql2`'s pool. Lookups are server-side prepared statements
 * (`execute`); the hash source is a streamed text query read with backpressure. An aborted call
 * destroys its connection, which ends what it was waiting for.
 */
import mysql from 'mysql2/promise';
import type { Connection as CallbackConnection } from 'mysql2';
import type { Duplex } from 'node:stream';
import { connectionUrl, inBatches, lease, queryOn, streamOn, type DriverOptions, type Row, type SqlDriver } from '../driver.js';

/** The promise wrapper's `connection` is the callback connection, whose queries can stream. */
const callbackConnection = (connection: mysql.PoolConnection) => connection.connection as unknown as CallbackConnection & { stream: Duplex };

/**
 * Takes a connection out of the pool for good. mysql2's destroy() only half-closes the socket and
 * lets a running statement finish; ending the socket fails the statement now.
 */
function drop(connection: mysql.PoolConnection): void {
  callbackConnection(connection).stream.destroy(new Error('connection dropped by unisd (deadline or failure)'));
  connection.destroy();
}

/** `mysql://user:password@host:port/database`, or ma1sd's `//host/database?user=…&password=…`. */
function connectionOptions(connection: string) {
  const url = connectionUrl(connection, 'mysql');
  const param = (name: string) => url.searchParams.get(name) ?? undefined;
  return {
    host: decodeURIComponent(url.hostname) || 'localhost',
    port: url.port ? Number(url.port) : 3306,
    database: decodeURIComponent(url.pathname.slice(1)) || undefined,
    user: decodeURIComponent(url.username) || param('user'),
    password: decodeURIComponent(url.password) || param('password'),
  };
}

export class MysqlDriver implements SqlDriver {
  readonly dialect = 'mysql';
  private readonly pool: mysql.Pool;
  private readonly timeout: number;

  constructor(options: DriverOptions) {
    this.timeout = options.timeout;
    this.pool = mysql.createPool({
      ...connectionOptions(options.connection),
      connectionLimit: options.poolSize,
      // mysql2 closes idle connections (by idleTimeout) only while maxIdle is below the limit.
      maxIdle: options.poolSize - 1,
      idleTimeout: options.idleTimeout,
      connectTimeout: options.timeout,
      charset: 'utf8mb4',
      // Bulk lookups prepare one statement per batch length; keep a connection's cache small.
      maxPreparedStatements: 64,
    });
  }

  async query(sql: string, params: readonly string[], signal: AbortSignal): Promise<Row[]> {
    return queryOn(await this.connect(signal), async (connection) => {
      const [rows] = await connection.execute({ sql, timeout: this.timeout }, [...params]);
      return rows as Row[];
    });
  }

  async *stream(sql: string, batchSize: number, signal: AbortSignal): AsyncIterable<Row[]> {
    yield* streamOn(await this.connect(signal), async function* (connection) {
      const rows = callbackConnection(connection).query(sql).stream({ highWaterMark: batchSize });
      // A streamed query hears nothing of its connection's end: the abort ends the stream itself.
      const onAbort = () => rows.destroy(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        yield* inBatches(rows, batchSize, signal);
      } finally {
        signal.removeEventListener('abort', onAbort);
        // Ended: nothing happens; left unread: it stops reading before its connection is dropped.
        rows.destroy();
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private connect(signal: AbortSignal) {
    return lease(this.pool.getConnection(), signal, (connection, destroy) => (destroy ? drop(connection) : connection.release()));
  }
}
