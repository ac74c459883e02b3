/**
 * What the SQL engine (./engine.ts) needs from a database: parameterised queries under a
 * deadline, a streamed read of a large result, and a pool to close. One file per database in
 * ./drivers/; each connects on first use, so unisd starts while a database is down.
 */
export type SqlDialect = 'postgresql' | 'mysql' | 'sqlite';

/** `sql.type` values; `mariadb` is served by the MySQL driver. */
export const SQL_TYPES = ['postgresql', 'mysql', 'mariadb', 'sqlite'] as const;
export type SqlType = typeof SQL_TYPES[number];

export const dialectOf = (type: SqlType): SqlDialect => (type === 'mariadb' ? 'mysql' : type);

export type Row = Record<string, unknown>;

export interface SqlDriver {
  readonly dialect: SqlDialect;
  /** Runs `sql` (with `?` placeholders) with `params` bound by the driver, never spliced into the text. */
  query(sql: string, params: readonly string[], signal: AbortSignal): Promise<Row[]>;
  /** Reads the result of `sql` through a cursor, in batches of at most `batchSize` rows, as they are consumed. */
  stream(sql: string, batchSize: number, signal: AbortSignal): AsyncIterable<Row[]>;
  close(): Promise<void>;
}

export interface DriverOptions {
  type: SqlType;
  /** As configured: a URL (postgresql://, mysql://), ma1sd's `//host/db?user=…&password=…`, or a SQLite file path. */
  connection: string;
  /** Most connections open at once. */
  poolSize: number;
  /** An idle connection is closed after this long (ms). */
  idleTimeout: number;
  /** Deadline of connecting and of one statement on the server, where the database has one (ms). */
  timeout: number;
}

export async function createDriver(options: DriverOptions): Promise<SqlDriver> {
  switch (dialectOf(options.type)) {
    case 'postgresql': return new (await import('./drivers/postgres.js')).PostgresDriver(options);
    case 'mysql': return new (await import('./drivers/mysql.js')).MysqlDriver(options);
    case 'sqlite': return new (await import('./drivers/sqlite.js')).SqliteDriver(options);
  }
}

/**
 * The URL of a server connection string. ma1sd wrote JDBC URLs without their `jdbc:<type>:`
 * prefix (`//host:5432/synapse?user=synapse&password=…`); those, and the prefixed form, are read
 * as `<scheme>://host…`.
 */
export function connectionUrl(connection: string, scheme: 'postgresql' | 'mysql'): URL {
  const text = connection.trim().replace(/^jdbc:(postgresql|mysql|mariadb):/, '');
  return new URL(text.startsWith('//') ? `${scheme}:${text}` : text);
}

/**
 * Waits for `pending` until `signal` aborts; what it yields after the abort is handed to
 * `discard` (a pooled connection is given back, not leaked).
 */
export function untilAborted<T>(pending: Promise<T>, signal: AbortSignal, discard: (value: T) => void): Promise<T> {
  if (signal.aborted) {
    pending.then(discard, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      pending.then(discard, () => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => { signal.removeEventListener('abort', onAbort); if (signal.aborted) return; resolve(value); },
      (err) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

/** A pooled connection held for one call. */
export interface Lease<T> {
  readonly connection: T;
  /** Set when a query on it failed: it is destroyed instead of going back to the pool. */
  failed: boolean;
  /** Gives it back (once); an aborted signal does this itself, destroying it, which ends what it was waiting for. */
  release(): void;
}

export async function lease<T>(acquire: Promise<T>, signal: AbortSignal, giveBack: (connection: T, destroy: boolean) => void): Promise<Lease<T>> {
  const connection = await untilAborted(acquire, signal, (c) => giveBack(c, false));
  let done = false;
  const held: Lease<T> = {
    connection,
    failed: false,
    release: () => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      giveBack(connection, held.failed || signal.aborted);
    },
  };
  const onAbort = () => held.release();
  signal.addEventListener('abort', onAbort, { once: true });
  return held;
}

/** Runs one query on a held connection: a failure marks it broken; it is given back either way. */
export async function queryOn<T, R>(held: Lease<T>, run: (connection: T) => Promise<R>): Promise<R> {
  try {
    return await run(held.connection);
  } catch (err) {
    held.failed = true;
    throw err;
  } finally {
    held.release();
  }
}

/**
 * Streams a result read on a held connection. Unless it was read to its end (failed, aborted, or
 * left early by the consumer), the connection goes with its open cursor or unread result,
 * destroyed instead of given back; it is released either way.
 */
export async function* streamOn<T>(held: Lease<T>, read: (connection: T) => AsyncIterable<Row[]>): AsyncIterable<Row[]> {
  let finished = false;
  try {
    yield* read(held.connection);
    finished = true;
  } finally {
    if (!finished) held.failed = true;
    held.release();
  }
}

/** Groups streamed rows into arrays of `size` (the last may be shorter), checking `signal` after each. */
export async function* inBatches(rows: Iterable<unknown> | AsyncIterable<unknown>, size: number, signal: AbortSignal): AsyncIterable<Row[]> {
  let batch: Row[] = [];
  for await (const row of rows) {
    batch.push(row as Row);
    if (batch.length === size) {
      yield batch;
      batch = [];
      signal.throwIfAborted();
    }
  }
  signal.throwIfAborted();
  if (batch.length > 0) yield batch;
}
