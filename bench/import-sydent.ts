/**
 * `unisd import sydent` on a large sydent database: rows per second (elapsed and CPU) and peak
 * RSS, at two sizes, each in a process of its own (peak RSS is per process), to show memory does
 * not grow with the source. Run alone: `npx tsx bench/import-sydent.ts [binds...]` (default 100000 1000000).
 * The signatures in the generated sgAssoc are random bytes of the right length: the import
 * copies them, it does not verify them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { importStorage, openSource } from '../core/import/command.js';
import { runImport } from '../core/import/importer.js';
import { openStore } from '../core/store/index.js';
import { testConfig } from '../test/helpers/app.js';
import { SYDENT_SCHEMA } from '../test/helpers/import-sources.js';

const SERVER = 'id.example.test';

function buildSydent(dir: string, binds: number): { db: string; conf: string } {
  const db = join(dir, 'sydent.db');
  const sqlite = new Database(db);
  sqlite.pragma('journal_mode = OFF');
  sqlite.pragma('synchronous = OFF');
  sqlite.exec(SYDENT_SCHEMA);
  const local = sqlite.prepare('INSERT INTO local_threepid_associations (id, medium, address, mxid, ts, notBefore, notAfter) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const global = sqlite.prepare(`INSERT INTO global_threepid_associations (medium, address, mxid, ts, notBefore, notAfter, originServer, originId, sgAssoc)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const ts = Date.now() - 86_400_000;
  const after = ts + 100 * 365 * 86_400_000;
  const signature = randomBytes(64).toString('base64').replace(/=+$/, '');
  const insert = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const address = `user${i}@example.org`;
      const mxid = `@user${i}:example.org`;
      local.run(i + 1, 'email', address, mxid, ts + i, ts + i, after + i);
      const sg = JSON.stringify({ address, medium: 'email', mxid, not_after: after + i, not_before: ts + i, signatures: { [SERVER]: { 'ed25519:0': signature } }, ts: ts + i });
      global.run('email', address, mxid, ts + i, ts + i, after + i, SERVER, i + 1, sg);
    }
  });
  for (let i = 0; i < binds; i += 50_000) insert(i, Math.min(binds, i + 50_000));
  sqlite.close();
  const conf = join(dir, 'sydent.conf');
  writeFileSync(conf, `[general]\nserver.name = ${SERVER}\n[crypto]\ned25519.signingkey = ed25519 0 ${randomBytes(32).toString('base64').replace(/=+$/, '')}\n`);
  return { db, conf };
}

async function child(binds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-bench-import-'));
  try {
    const { db, conf } = buildSydent(dir, binds);
    const config = testConfig({ server: { name: SERVER }, storage: { sqlite: { path: join(dir, 'unisd.db') } }, keys: { path: join(dir, 'signing.key') } });
    const rssBefore = process.resourceUsage().maxRSS;
    const source = await openSource('sydent', db, conf);
    const store = await openStore(importStorage(config.storage));
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const result = await runImport(source, store, config, { dryRun: false, overwrite: false, out: () => {}, progress: () => {} });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // CPU time (user + system) as well: on a shared machine it varies far less than elapsed time.
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    await store.close();
    await source.close();
    process.stdout.write(`${JSON.stringify({ binds, imported: result.areas.binds!.new, seconds, rowsPerSecond: Math.round(binds / seconds), cpuSeconds, rowsPerCpuSecond: Math.round(binds / cpuSeconds), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), rssAfterFixtureMb: Math.round(rssBefore / 1024) })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]));
} else {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  for (const binds of sizes.length > 0 ? sizes : [100_000, 1_000_000]) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(binds)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    const r = JSON.parse(line);
    console.log(`${r.binds} binds: ${r.seconds.toFixed(1)} s, ${r.rowsPerSecond} rows/s (CPU ${r.cpuSeconds.toFixed(1)} s, ${r.rowsPerCpuSecond} rows per CPU second), peak RSS ${r.peakRssMb} MB (fixture build peak ${r.rssAfterFixtureMb} MB)`);
  }
}
