/**
 * `unisd providers check -c config.yaml`, run as a real process: one line per enabled provider
 * (ok or the kind of failure, lookup latency, hash-source count), exit status 1 when any failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, hangingServer } from './helpers/net.js';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'unisd-providers-check-'));

function unisd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'core/cli.ts', ...args], { cwd: root, env }, (err, stdout, stderr) => {
      done({ code: err ? (err as { code?: number }).code ?? null : 0, stdout, stderr });
    });
  });
}

/** A directory database with `rows` 3PIDs, and the sql section reading it. */
function directory(rows: number): string {
  const path = join(dir, `directory-${rows}.db`);
  const db = new Database(path);
  db.exec('CREATE TABLE people (login TEXT, medium TEXT, address TEXT)');
  const insert = db.prepare('INSERT INTO people VALUES (?, \'email\', ?)');
  for (let n = 1; n <= rows; n++) insert.run(`user${n}`, `user${n}@example.org`);
  db.close();
  return `sql:
  enabled: true
  type: sqlite
  connection: ${path}
  identity:
    type: localpart
    query: 'SELECT login AS uid FROM people WHERE medium = ? AND address = ?'
  lookup:
    query: 'SELECT login AS mxid, medium, address FROM people'
`;
}

function config(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, `matrix:\n  domain: example.org\nproviders:\n  timeout: 500ms\n${text}`);
  return file;
}

test('providers check: every provider answers: one ok line each with its hash-source count, exit 0', async () => {
  const file = config('ok.yaml', `${directory(2500)}memory:
  enabled: true
  identities: [{ username: bob, threepids: [{ medium: email, address: bob@example.org }] }]
`);
  const { code, stdout, stderr } = await unisd(['providers', 'check', '-c', file]);
  assert.equal(code, 0, stderr);
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^memory\s+ok\s+lookup \d+\.\d ms\s+hash source off$/);
  assert.match(lines[1], /^sql\s+ok\s+lookup \d+\.\d ms\s+hash source 2500 mappings$/);
});

test('providers check: a database that is down or hangs is reported with the kind of failure, exit 1', async (t) => {
  const hanging = await hangingServer();
  t.after(() => hanging.close());
  const file = config('failing.yaml', `sql:
  enabled: true
  type: mysql
  connection: mysql://unisd@127.0.0.1:${await freePort()}/directory
synapseSql:
  enabled: true
  type: postgresql
  connection: postgresql://synapse@127.0.0.1:${hanging.port}/synapse
`);
  const { code, stdout } = await unisd(['providers', 'check', '-c', file]);
  assert.equal(code, 1);
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^sql\s+failed \(unreachable: ECONNREFUSED\)\s+lookup -\s+hash source off$/);
  assert.match(lines[1], /^synapseSql\s+failed \(timeout\)\s+lookup -\s+hash source -$/);
});

test('providers check runs beside a server whose metrics listener holds metrics.port: it opens no listener', async (t) => {
  const { createServer } = await import('node:net');
  const taken = createServer();
  await new Promise<void>((ready) => taken.listen(0, '127.0.0.1', ready));
  t.after(() => new Promise<void>((closed) => taken.close(() => closed())));
  const port = (taken.address() as { port: number }).port;
  const file = config('metrics.yaml', `metrics:
  enabled: true
  port: ${port}
memory:
  enabled: true
  identities: [{ username: bob, threepids: [{ medium: email, address: bob@example.org }] }]
`);
  const { code, stdout, stderr } = await unisd(['providers', 'check', '-c', file]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^memory\s+ok\s+lookup \d+\.\d ms\s+hash source off\n$/);
});
