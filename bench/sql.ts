/** 5. hashStorageType sql on SQLite at N: writing the table, and lookups of 1000 and 10,000 hashes (half hits). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import type { WorkerPool } from '../core/workers.js';
import { buildIndex } from '../plugins/lookup/table-builder.js';
import { PEPPER, lookupAddresses, silentLog, syntheticProvider } from './fixtures.js';
import { percentile, timeRuns, type Row } from './report.js';

export async function sqlStorage(pool: WorkerPool, count: number): Promise<Row[]> {
  const section = `5. sql on SQLite, N=${count.toLocaleString('en-US')}`;
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-'));
  const store = await openSqliteStore(join(dir, 'bench.sqlite'));
  try {
    const index = await buildIndex(PEPPER, { pool, sources: [syntheticProvider(count)], log: silentLog, onSourceError: 'throw' });
    let start = performance.now();
    await store.hashes.replace(PEPPER, index.entries(5000));
    const written = performance.now() - start;
    const rows: Row[] = [{ section, measure: 'write the table (hashes.replace)', value: written / 1000, unit: 's', note: `${(count / (written / 1000) / 1000).toFixed(0)}k rows/s` }];
    for (const size of [1000, 10_000]) {
      const requests = Array.from({ length: 10 }, () => lookupAddresses(count, PEPPER, size));
      let k = 0;
      let found = 0;
      const runs = await timeRuns(size === 1000 ? 30 : 10, async () => { found = (await store.hashes.lookup(PEPPER, requests[k++ % requests.length])).length; });
      if (found < size * 0.4) throw new Error(`only ${found} of ${size} found`);
      rows.push({ section, measure: `lookup of ${size.toLocaleString('en-US')} hashes`, value: percentile(runs, 0.5), unit: 'ms', note: `median; p95 ${percentile(runs, 0.95).toFixed(1)} ms` });
    }
    return rows;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
