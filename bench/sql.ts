/**
 * 5. hashStorageType sql at N: writing the table, and lookups of 1000 and 10,000 hashes (half
 * hits), on SQLite and, when UNISD_TEST_POSTGRES_URI is set, PostgreSQL (ratios to SQLite's
 * figures of the same run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import type { HashTableStore } from '../core/store/port.js';
import type { WorkerPool } from '../core/workers.js';
import { buildIndex } from '../plugins/lookup/table-builder.js';
import { PEPPER, lookupAddresses, silentLog, syntheticProvider } from './fixtures.js';
import { postgresUri, timesSqlite, withPostgresStore } from './postgres.js';
import { percentile, timeRuns, type Row } from './report.js';

const LOOKUP_SIZES = [1000, 10_000];

interface Figures {
  /** ms */
  write: number;
  /** Median ms per lookup size. */
  lookups: Map<number, { median: number; p95: number }>;
}

type Index = Awaited<ReturnType<typeof buildIndex>>;

async function measure(hashes: HashTableStore, index: Index, requests: Map<number, string[][]>): Promise<Figures> {
  const start = performance.now();
  await hashes.replace(PEPPER, index.entries(5000));
  const write = performance.now() - start;
  const lookups = new Map<number, { median: number; p95: number }>();
  for (const size of LOOKUP_SIZES) {
    const bodies = requests.get(size)!;
    let k = 0;
    let found = 0;
    const runs = await timeRuns(size === 1000 ? 30 : 10, async () => { found = (await hashes.lookup(PEPPER, bodies[k++ % bodies.length])).length; });
    if (found < size * 0.4) throw new Error(`only ${found} of ${size} found`);
    lookups.set(size, { median: percentile(runs, 0.5), p95: percentile(runs, 0.95) });
  }
  return { write, lookups };
}

function rows(section: string, count: number, figures: Figures, sqlite?: Figures): Row[] {
  const beside = (value: number, reference: number | undefined): string => (sqlite && reference !== undefined ? `; ${timesSqlite(value, reference)}` : '');
  return [
    {
      section, measure: 'write the table (hashes.replace)', value: figures.write / 1000, unit: 's',
      note: `${(count / (figures.write / 1000) / 1000).toFixed(0)}k rows/s${beside(figures.write, sqlite?.write)}`,
    },
    ...LOOKUP_SIZES.map((size) => {
      const { median, p95 } = figures.lookups.get(size)!;
      return {
        section, measure: `lookup of ${size.toLocaleString('en-US')} hashes`, value: median, unit: 'ms',
        note: `median; p95 ${p95.toFixed(1)} ms${beside(median, sqlite?.lookups.get(size)!.median)}`,
      };
    }),
  ];
}

export async function sqlStorage(pool: WorkerPool, count: number): Promise<Row[]> {
  const n = count.toLocaleString('en-US');
  const index = await buildIndex(PEPPER, { pool, sources: [syntheticProvider(count)], log: silentLog, onSourceError: 'throw' });
  // The same requests for both backends.
  const requests = new Map(LOOKUP_SIZES.map((size) => [size, Array.from({ length: 10 }, () => lookupAddresses(count, PEPPER, size))]));
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-'));
  let sqlite: Figures;
  const store = await openSqliteStore(join(dir, 'bench.sqlite'));
  try {
    sqlite = await measure(store.hashes, index, requests);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = rows(`5. sql on SQLite, N=${n}`, count, sqlite);
  if (postgresUri) {
    const postgres = await withPostgresStore((pg) => measure(pg.hashes, index, requests));
    out.push(...rows(`5. sql on PostgreSQL, N=${n}`, count, postgres, sqlite));
  }
  return out;
}
