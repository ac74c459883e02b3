/**
 * PostgreSQL through `pg`'s pool and `pg-cursor`. The server enforces the lookups' deadline too
 * (`statement_timeout`); an aborted call destroys its connection, which ends what it was waiting
 * for.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { connectionUrl, lease, queryOn, streamOn, type DriverOptions, type Row, type SqlDriver } from '../driver.js';
import { driverSql } from '../placeholders.js';

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgresql';
  private readonly pool: pg.Pool;

  constructor(options: DriverOptions) {
    this.pool = new pg.Pool({
      connectionString: connectionUrl(options.connection, 'postgresql').href,
      max: options.poolSize,
      idleTimeoutMillis: options.idleTimeout,
      connectionTimeoutMillis: options.timeout,
      statement_timeout: options.timeout,
      application_name: 'unisd',
    });
    // An idle connection the server closed (restart, idle timeout) is dropped by the pool; without
    // a listener its error would end the process.
    this.pool.on('error', () => {});
  }

  async query(sql: string, params: readonly string[], signal: AbortSignal): Promise<Row[]> {
    return queryOn(await this.connect(signal), async (connection) => (await connection.query(driverSql(sql, 'postgresql'), [...params])).rows);
  }

  async *stream(sql: string, batchSize: number, signal: AbortSignal): AsyncIterable<Row[]> {
    yield* streamOn(await this.connect(signal), async function* (connection) {
      // statement_timeout bounds lookups; an open cursor lives as long as its consumer reads
      // (the server counts it as one statement), so it is lifted on this connection meanwhile.
      await connection.query('SET statement_timeout = 0');
      const cursor = connection.query(new Cursor(driverSql(sql, 'postgresql')));
      for (;;) {
        const rows = await cursor.read(batchSize);
        if (rows.length === 0) break;
        yield rows;
      }
      await cursor.close();
      await connection.query('RESET statement_timeout');
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private connect(signal: AbortSignal) {
    return lease(this.pool.connect(), signal, (client, destroy) => client.release(destroy));
  }
}
