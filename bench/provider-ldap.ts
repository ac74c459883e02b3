/**
 * The LDAP provider's hash source: mappings per second streamed from a real slapd holding 100k
 * people (paged search, two page sizes), and a bulk lookup of 1000 addresses (OR filters in
 * chunks). Needs Debian's slapd and ldap-utils (the test helper starts a throwaway server).
 * Alone: `npx tsx bench/provider-ldap.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ldapProvider } from '../plugins/ldap/index.js';
import { testConfig } from '../test/helpers/app.js';
import { SERVICE_DN, SERVICE_PASSWORD, startSlapd, writeBulkLdif } from '../test/helpers/slapd.js';

const ENTRIES = 100_000;
const BULK = 1000;

export interface LdapBenchFigures {
  entries: number;
  /** Mappings per second through mappings(), by page size. */
  streamRowsPerSecond: Record<number, number>;
  /** 3PIDs per second through one bulkLookup of BULK addresses. */
  bulkLookupPerSecond: number;
}

export async function benchLdapProvider(entries = ENTRIES): Promise<LdapBenchFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'unisd-bench-ldap-'));
  await writeBulkLdif(join(dir, 'bulk.ldif'), entries);
  const slapd = await startSlapd([join(dir, 'bulk.ldif')]);
  const { hostname, port } = new URL(slapd.url);
  const provider = (pageSize: number) => ldapProvider(testConfig({
    matrix: { domain: 'example.org' },
    ldap: {
      enabled: true, lookup: true,
      connection: { host: hostname, port: Number(port), bindDn: SERVICE_DN, bindPassword: SERVICE_PASSWORD, baseDNs: ['ou=bulk,dc=example,dc=org'] },
      attribute: { uid: { type: 'uid', value: 'uid' } },
      identity: { pageSize },
    },
  }));
  const signal = new AbortController().signal;
  try {
    const streamRowsPerSecond: Record<number, number> = {};
    for (const pageSize of [500, 1000]) {
      const ldap = provider(pageSize);
      let rows = 0;
      const start = performance.now();
      for await (const batch of ldap.mappings(signal)) rows += batch.length;
      const elapsed = performance.now() - start;
      await ldap.close();
      if (rows !== entries) throw new Error(`streamed ${rows} of ${entries}`);
      streamRowsPerSecond[pageSize] = Math.round(rows / elapsed * 1000);
    }

    const ldap = provider(500);
    // Spread over the directory (97 is prime to any count of entries here: BULK distinct people).
    const asked = Array.from({ length: BULK }, (_, i) => ({ medium: 'email', address: `user${(i * 97) % entries}@bulk.example.org` }));
    await ldap.lookup(asked[0], signal); // connect and bind outside the measurement
    const start = performance.now();
    const found = await ldap.bulkLookup(asked, signal);
    const elapsed = performance.now() - start;
    await ldap.close();
    if (found.length !== BULK) throw new Error(`bulk lookup found ${found.length} of ${BULK}`);
    return { entries, streamRowsPerSecond, bulkLookupPerSecond: Math.round(BULK / elapsed * 1000) };
  } finally {
    await slapd.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await benchLdapProvider();
  for (const [pageSize, rate] of Object.entries(figures.streamRowsPerSecond)) {
    console.log(`ldap hash source, ${figures.entries} entries, pages of ${pageSize}: ${rate} rows/s`);
  }
  console.log(`ldap bulk lookup, ${BULK} addresses in chunks: ${figures.bulkLookupPerSecond} 3PIDs/s`);
}
