import { WorkerPool } from '../core/workers.js';
import { buildIndex } from '../plugins/lookup/table-builder.js';
import { PEPPER, silentLog, syntheticProvider, mappingAt } from './fixtures.js';
const pool = new WorkerPool();
const count = 300_000;
await buildIndex(PEPPER, { pool, sources: [syntheticProvider(10000)], log: silentLog, onSourceError: 'throw' });
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  let n = 0; for await (const b of syntheticProvider(count).mappings!(new AbortController().signal)) n += b.length;
  const stream = performance.now() - t; t = performance.now();
  const inputs = Array.from({ length: 1000 }, (_, i) => `${mappingAt(i).address} email`);
  for (let i = 0; i < count / 1000; i++) await pool.hashBatch(inputs, PEPPER);
  const hashOnly = performance.now() - t; t = performance.now();
  await buildIndex(PEPPER, { pool, sources: [syntheticProvider(count)], log: silentLog, onSourceError: 'throw' });
  const build = performance.now() - t;
  console.log({ stream: stream.toFixed(0), hashSequential: hashOnly.toFixed(0), build: build.toFixed(0) });
}
await pool.close();
