/**
 * The worker pool hashes exactly like core/crypto/lookup-hash.ts, both from source (the worker is
 * a .ts file run through tsx in the worker thread) and as compiled JavaScript (the layout
 * `npm run build` produces: dist/core/workers.js beside dist/workers/hash-batch.js).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WorkerPool, workerFile } from '../core/workers.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';

// identity-service-api.md, "Client behaviour" example with the pepper "matrixrocks".
const SPEC_VECTORS: Array<[address: string, medium: string, hash: string]> = [
  ['alice@example.com', 'email', '4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc'],
  ['bob@example.com', 'email', 'LJwSazmv46n0hlMlsb_iYxI0_HXEqy_yj6Jm636cdT8'],
  ['18005552067', 'msisdn', 'nlo35_T5fzSGZzJApqu8lgIudJvmOQtDaHtr-I4rU7I'],
];

const batch: Array<[string, string]> = [
  ...SPEC_VECTORS.map(([address, medium]): [string, string] => [address, medium]),
  ...Array.from({ length: 2000 }, (_, i): [string, string] => i % 2 ? [`user${i}@example.org`, 'email'] : [`4479${String(i).padStart(8, '0')}`, 'msisdn']),
  ['ünïcödé@exämple.org', 'email'],
];
const inputs = batch.map(([address, medium]) => `${address} ${medium}`);

/** The digests of a hashBatch answer as base64url lookup hashes. */
const asHashes = (digests: Uint8Array): string[] =>
  Array.from({ length: digests.length / 32 }, (_, i) => Buffer.from(digests.buffer, digests.byteOffset + i * 32, 32).toString('base64url'));

const repo = fileURLToPath(new URL('..', import.meta.url));

test('from source: the worker is the .ts file and hashes as the main thread does, spec vectors included', async () => {
  assert.match(workerFile('hash-batch'), /\/workers\/hash-batch\.ts$/);
  const pool = new WorkerPool();
  try {
    const digests = await pool.hashBatch(inputs, 'matrixrocks');
    assert.ok(digests instanceof Uint8Array);
    assert.equal(digests.length, inputs.length * 32);
    const hashes = asHashes(digests);
    assert.deepEqual(hashes.slice(0, 3), SPEC_VECTORS.map(([, , hash]) => hash));
    assert.deepEqual(hashes, batch.map(([address, medium]) => lookupHash(address, medium, 'matrixrocks')));
    const [other] = asHashes(await pool.hashBatch(['alice@example.com email'], 'another pepper'));
    assert.notEqual(other, SPEC_VECTORS[0]![2]);
    assert.equal((await pool.hashBatch([], 'matrixrocks')).length, 0);
  } finally {
    await pool.close();
  }
});

test('close() ends the threads; the pool starts again on next use and closes twice without error', async () => {
  const pool = new WorkerPool();
  await pool.hashBatch(['alice@example.com email'], 'matrixrocks');
  await pool.close();
  await pool.close();
  assert.deepEqual(asHashes(await pool.hashBatch(['alice@example.com email'], 'matrixrocks')), [SPEC_VECTORS[0]![2]]);
  await pool.close();
});

test('compiled: dist/core/workers.js runs dist/workers/hash-batch.js', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'unisd-build-'));
  after(() => rmSync(outDir, { recursive: true, force: true }));
  // The pool and its worker (with what they import) compiled as `npm run build` does, into the same layout.
  execFileSync(process.execPath, [
    join(repo, 'node_modules/typescript/bin/tsc'), 'core/workers.ts', 'workers/hash-batch.ts', '--outDir', outDir, '--rootDir', '.',
    '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node',
  ], { cwd: repo, stdio: 'pipe' });
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(repo, 'node_modules'), join(outDir, 'node_modules'), 'dir');

  const built = await import(pathToFileURL(join(outDir, 'core/workers.js')).href) as typeof import('../core/workers.js');
  assert.equal(built.workerFile('hash-batch'), pathToFileURL(join(outDir, 'workers/hash-batch.js')).href);
  const pool = new built.WorkerPool();
  try {
    assert.deepEqual(asHashes(await pool.hashBatch(inputs, 'matrixrocks')), batch.map(([address, medium]) => lookupHash(address, medium, 'matrixrocks')));
  } finally {
    await pool.close();
  }
});
