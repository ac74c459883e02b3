/**
 * Hash-source streaming rate of the SQL provider: 100k rows read through its cursor, normalised
 * and batched as the hash index consumes them (rows/s). SQLite always; PostgreSQL and MariaDB
 * when UNISD_TEST_POSTGRES_URI / UNISD_TEST_MARIADB_URI are set (a throwaway database each).
 * Run alone: `npx tsx bench/provider-sql.ts`.
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfig } from '../core/config/load.js';
import { sqlProvider } from '../plugins/sql/provider.js';
import { concat, createTestDatabase, numbers, unavailable, type TestDbKind } from '../test/helpers/sql-databases.js';

const ROWS = 100_000;

/** Rows per second streamed from a throwaway `kind` database of `rows` rows. */
export async function sqlStreamingRate(kind: TestDbKind, rows = ROWS): Promise<number> {
  const db = await createTestDatabase(kind);
  try {
    await db.exec([
      'CREATE TABLE directory (login VARCHAR(64) NOT NULL, mail VARCHAR(255) NOT NULL)',
      `INSERT INTO directory (login, mail) SELECT ${concat(kind, '\'user\'', 'CAST(n AS CHAR(10))')}, ${concat(kind, '\'user\'', 'CAST(n AS CHAR(10))', '\'@example.org\'')} FROM (${numbers(kind, rows)}) AS s`,
    ]);
    const config = loadConfig({
      env: {},
      overrides: {
        matrix: { domain: 'example.org' },
        sql: {
          enabled: true, type: kind, connection: db.connection,
          identity: { type: 'localpart', query: 'SELECT login AS uid FROM directory WHERE ? = \'email\' AND mail = ?' },
          lookup: { query: 'SELECT login AS mxid, \'email\' AS medium, mail AS address FROM directory' },
        },
      },
    });
    const provider = await sqlProvider({ key: 'sql', config: config.sql }, { domain: 'example.org', timeout: 10_000, log: pino({ level: 'silent' }) });
    try {
      const started = performance.now();
      let count = 0;
      for await (const batch of provider.mappings!(AbortSignal.timeout(300_000))) count += batch.length;
      const ms = performance.now() - started;
      if (count !== rows) throw new Error(`streamed ${count} of ${rows} rows`);
      return Math.round(rows / ms * 1000);
    } finally {
      await provider.close?.();
    }
  } finally {
    await db.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const kind of ['sqlite', 'postgresql', 'mariadb'] as const) {
    const skipped = unavailable(kind);
    console.log(`sql provider hash source, ${ROWS} rows from ${kind}: ${skipped ?? `${await sqlStreamingRate(kind)} rows/s`}`);
  }
}
