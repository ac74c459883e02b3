/** The PostgreSQL the benchmarks measure, when UNISD_TEST_POSTGRES_URI names one: a store in a schema of its own, dropped after. */
import { openPostgresStore, type PostgresStore } from '../core/store/postgresql/index.js';

export const postgresUri = process.env.UNISD_TEST_POSTGRES_URI;
export const POSTGRES_SKIPPED = 'PostgreSQL sections skipped: set UNISD_TEST_POSTGRES_URI (e.g. postgresql://postgres@127.0.0.1:5432/test) to measure them';

let schemas = 0;

export async function withPostgresStore<T>(work: (store: PostgresStore) => Promise<T>): Promise<T> {
  const store = await openPostgresStore({
    uri: postgresUri!, schema: `unisd_bench_${process.pid}_${schemas++}`, maxConnections: 4, connectionTimeout: 10_000, idleTimeout: 10_000,
  });
  try {
    return await work(store);
  } finally {
    await store.db.run(`DROP SCHEMA "${store.db.schema}" CASCADE`);
    await store.close();
  }
}

/** "1.3× SQLite": a PostgreSQL figure beside SQLite's of the same run. */
export const timesSqlite = (value: number, sqlite: number): string => `${(value / sqlite).toFixed(2)}× SQLite`;
