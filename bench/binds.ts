/**
 * Binds per second (one binds.put each, as /3pid/bind commits): SQLite by
 * storage.sqlite.synchronous, FULL (the default: a bind answered is on disk) and NORMAL; and
 * PostgreSQL (synchronous_commit on) when UNISD_TEST_POSTGRES_URI is set, beside SQLite FULL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import type { Store } from '../core/store/port.js';
import { signAssociation } from '../plugins/binds/association.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { postgresUri, timesSqlite, withPostgresStore } from './postgres.js';
import type { Row } from './report.js';

async function bindsPerSecond(store: Store, count: number): Promise<number> {
  const signed = signAssociation({ medium: 'email', address: 'user@example.org' }, '@u:example.org', Date.now(), 'id.example.org', generateSigningKey());
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    await store.binds.put({ medium: 'email', address: `user${i}@example.org`, mxid: `@u${i}:example.org`, ts: signed.ts, notBefore: signed.not_before, notAfter: signed.not_after, signed });
  }
  return count / ((performance.now() - start) / 1000);
}

async function sqliteBinds(synchronous: 'full' | 'normal', count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-'));
  const store = await openSqliteStore(join(dir, 'binds.db'), { synchronous });
  try {
    return await bindsPerSecond(store, count);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function binds(count = 1000): Promise<Row[]> {
  const section = `binds, ${count} one at a time`;
  const full = await sqliteBinds('full', count);
  const rows: Row[] = [
    { section, measure: 'SQLite file (WAL), storage.sqlite.synchronous: full', value: full, unit: 'binds/s' },
    { section, measure: 'SQLite file (WAL), storage.sqlite.synchronous: normal', value: await sqliteBinds('normal', count), unit: 'binds/s' },
  ];
  if (postgresUri) {
    const value = await withPostgresStore((store) => bindsPerSecond(store, count));
    rows.push({ section, measure: 'PostgreSQL (synchronous_commit on)', value, unit: 'binds/s', note: `${timesSqlite(value, full)} full` });
  }
  return rows;
}
