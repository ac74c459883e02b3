/**
 * Hash-source streaming rate of the rest provider: 100k mappings paged from a loopback backend
 * speaking ma1sd's protocol plus unisd's listing (test/helpers/ma1sd-backend.ts), at two page
 * sizes. `npx tsx bench/provider-rest.ts` prints one line per page size; the function returns the figures.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { RestProvider } from '../plugins/rest/provider.js';
import { startMa1sdBackend } from '../test/helpers/ma1sd-backend.js';

const ROWS = 100_000;

export interface PagedFigure {
  pageSize: number;
  rows: number;
  pages: number;
  ms: number;
  rowsPerSecond: number;
}

export async function benchRestProvider(rows = ROWS): Promise<PagedFigure[]> {
  const figures: PagedFigure[] = [];
  for (const pageSize of [100, 1000]) {
    const backend = await startMa1sdBackend([], rows);
    const provider = new RestProvider({
      endpoints: { single: '', bulk: '', all: `${backend.url}/_unisd/backend/api/v1/identity/all` },
      domain: 'example.org', hashEnabled: true, pageSize, timeout: 10_000, maxResponseBytes: 4_194_304, bearerToken: 'bench',
    });
    try {
      const start = performance.now();
      let count = 0;
      for await (const batch of provider.mappings(new AbortController().signal)) count += batch.length;
      const ms = performance.now() - start;
      figures.push({ pageSize, rows: count, pages: backend.pages, ms: Math.round(ms), rowsPerSecond: Math.round(count / ms * 1000) });
    } finally {
      await provider.close();
      await backend.close();
    }
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`rest provider, hash-source streaming of ${ROWS} mappings from a loopback backend (the backend's own work included):`);
  for (const f of await benchRestProvider()) console.log(`    pageSize ${String(f.pageSize).padEnd(5)} ${f.rows} rows, ${f.pages} pages in ${f.ms} ms: ${f.rowsPerSecond} rows/s`);
}
