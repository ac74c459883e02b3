/** Binds per second (one binds.put each, as /3pid/bind commits) by storage.sqlite.synchronous: FULL (the default: a bind answered is on disk) and NORMAL. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import { signAssociation } from '../plugins/binds/association.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import type { Row } from './report.js';

async function bindsPerSecond(synchronous: 'full' | 'normal', count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-'));
  const store = await openSqliteStore(join(dir, 'binds.db'), { synchronous });
  const signed = signAssociation({ medium: 'email', address: 'user@example.org' }, '@u:example.org', Date.now(), 'id.example.org', generateSigningKey());
  try {
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      await store.binds.put({ medium: 'email', address: `user${i}@example.org`, mxid: `@u${i}:example.org`, ts: signed.ts, notBefore: signed.not_before, notAfter: signed.not_after, signed });
    }
    return count / ((performance.now() - start) / 1000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function binds(count = 1000): Promise<Row[]> {
  const section = `binds, ${count} one at a time (SQLite file, WAL)`;
  const rows: Row[] = [];
  for (const level of ['full', 'normal'] as const) {
    rows.push({ section, measure: `storage.sqlite.synchronous: ${level}`, value: await bindsPerSecond(level, count), unit: 'binds/s' });
  }
  return rows;
}
