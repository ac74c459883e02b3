/**
 * 6. Hash-source streaming per identity provider: rows per second read through each provider's
 * mappings() from its real backend at N rows, as a ratio to a reference measured in the same run:
 * the same N raw rows (`User<i>@Example.org` → `@user<i>:example.org`) turned into normalised
 * mappings in process and yielded in batches, which is the work every provider does per row
 * without a backend. A provider whose service is not configured is one skipped row (the test
 * suites' variables: UNISD_TEST_POSTGRES_URI, UNISD_TEST_MARIADB_URI, UNISD_TEST_LDAP=1).
 * Alone: `npx tsx bench/providers.ts [rows]` (default 100000).
 */
import { pathToFileURL } from 'node:url';
import type { Mapping } from '../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../core/providers/provider.js';
import { mappingOf } from '../plugins/rest/protocol.js';
import { memoryProvider } from '../plugins/memory-provider/index.js';
import { unavailable } from '../test/helpers/sql-databases.js';
import { sqlStreamingRate } from './provider-sql.js';
import { benchLdapProvider } from './provider-ldap.js';
import { benchExecProvider } from './provider-exec.js';
import { benchRestProvider } from './provider-rest.js';
import { table, type Row } from './report.js';

const rawItem = (i: number) => ({ medium: 'email', address: `User${i}@Example.org`, id: { type: 'mxid', value: `@user${i}:example.org` } });

async function* normalisedInProcess(rows: number): AsyncIterable<Mapping[]> {
  for (let i = 0; i < rows; i += MAPPING_BATCH_SIZE) {
    const batch: Mapping[] = [];
    for (let j = i; j < Math.min(rows, i + MAPPING_BATCH_SIZE); j++) batch.push(mappingOf(rawItem(j), 'example.org')!);
    yield batch;
  }
}

async function rowsPerSecond(stream: AsyncIterable<Mapping[]>, expected: number): Promise<number> {
  const start = performance.now();
  let count = 0;
  for await (const batch of stream) count += batch.length;
  const seconds = (performance.now() - start) / 1000;
  if (count !== expected) throw new Error(`streamed ${count} of ${expected} rows`);
  return count / seconds;
}

export async function providerStreaming(rows: number, progress: (text: string) => void = () => {}): Promise<Row[]> {
  const section = `6. provider hash sources, ${rows.toLocaleString('en-US')} rows`;
  await rowsPerSecond(normalisedInProcess(rows), rows); // warm-up: the code paths compiled
  const reference = await rowsPerSecond(normalisedInProcess(rows), rows);
  const result: Row[] = [{ section, measure: 'reference: the same raw rows normalised and batched in process', value: reference, unit: 'rows/s', note: '1.00 of the reference' }];
  const measured = (measure: string, value: number, note?: string) =>
    result.push({ section, measure, value, unit: 'rows/s', note: `${(value / reference).toFixed(2)} of the reference${note ? `; ${note}` : ''}` });
  const skipped = (measure: string, reason: string) => result.push({ section, measure, value: null, unit: 'rows/s', note: reason });

  progress('6. providers: memory');
  const identities = Array.from({ length: rows }, (_, i) => ({ username: `user${i}`, threepids: [{ medium: 'email', address: `User${i}@Example.org` }] }));
  measured('memory (normalised when the config is read)', await rowsPerSecond(memoryProvider(identities, 'example.org', true).mappings!(AbortSignal.timeout(600_000)), rows));

  for (const [kind, name] of [['sqlite', 'SQLite'], ['postgresql', 'PostgreSQL'], ['mariadb', 'MariaDB']] as const) {
    const reason = unavailable(kind);
    if (reason) { skipped(`sql on ${name}`, reason); continue; }
    progress(`6. providers: sql on ${name}`);
    measured(`sql on ${name} (cursor)`, await sqlStreamingRate(kind, rows));
  }

  if (process.env.UNISD_TEST_LDAP === '1') {
    progress('6. providers: ldap');
    const ldap = await benchLdapProvider(rows);
    for (const [pageSize, rate] of Object.entries(ldap.streamRowsPerSecond)) measured(`ldap on slapd, pages of ${pageSize}`, rate);
  } else {
    skipped('ldap on slapd', 'skipped: set UNISD_TEST_LDAP=1 (Debian slapd and ldap-utils installed)');
  }

  progress('6. providers: exec');
  for (const f of await benchExecProvider(rows)) measured(`exec, ${f.format} output`, f.rowsPerSecond, 'the listing program\'s own work included');
  progress('6. providers: rest');
  for (const f of await benchRestProvider(rows)) measured(`rest, pages of ${f.pageSize}`, f.rowsPerSecond, 'the loopback backend\'s own work included');
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = Number(process.argv[2] ?? 100_000);
  console.log(table(await providerStreaming(rows, (text) => process.stderr.write(`… ${text}\n`))));
}
