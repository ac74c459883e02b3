/**
 * `server.workers: 2`: a real `unisd` cluster (two HTTP processes on one port, each with its own
 * in_memory table). Rotations run while a client keeps doing what matrix-js-sdk does (hash_details,
 * then lookup with that pepper), each request on a new connection so both workers serve them:
 * no lookup fails, and afterwards every worker hands out the same pepper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { stringify } from 'yaml';
import { openSqliteStore } from '../core/store/sqlite/index.js';
import { hashSecret, randomToken } from '../core/crypto/tokens.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';

const root = resolve(import.meta.dirname, '..');

test('two workers: rotations under continuous lookups fail none, and both workers answer the same pepper after each', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const database = join(dir, 'db.sqlite');
  const token = randomToken();
  const store = await openSqliteStore(database);
  await store.accounts.put({ tokenHash: hashSecret(token), userId: '@asker:example.org', createdAt: Date.now(), expiresAt: null });
  await store.close();

  const config = join(dir, 'config.yaml');
  writeFileSync(config, stringify({
    server: { port: 0, workers: 2, name: 'id.example.test' },
    storage: { sqlite: { path: database } },
    keys: { path: join(dir, 'signing.key') },
    matrix: { domain: 'example.org' },
    memory: { enabled: true, hashEnabled: true, identities: Array.from({ length: 500 }, (_, i) => ({ username: `user${i}`, threepids: [{ medium: 'email', address: `user${i}@example.org` }] })) },
    hashing: { rotationPolicy: 'per_requests', requests: 15 },
  }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UNISD_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'core/cli.ts', '-c', config], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(async () => {
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
  const lines: Array<Record<string, any>> = [];
  const listening: string[] = [];
  const bothListening = new Promise<void>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`unisd exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = (() => { try { return JSON.parse(line); } catch { return { msg: line }; } })();
      lines.push(entry);
      const at = /^Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.msg));
      if (at) listening.push(at[1]);
      if (listening.length === 2) done();
    });
  });
  await bothListening;
  assert.equal(listening[0], listening[1], 'the workers share one port');
  const base = listening[0];
  const headers = { authorization: `Bearer ${token}`, connection: 'close' };

  const pepperNow = async (): Promise<string> => {
    const res = await request(`${base}/_matrix/identity/v2/hash_details`, { headers });
    assert.equal(res.statusCode, 200);
    return ((await res.body.json()) as { lookup_pepper: string }).lookup_pepper;
  };
  const peppersSeen = new Set<string>();
  // What a client does, 120 times, four at a time: fetch the pepper, hash with it, look up.
  for (let round = 0; round < 30; round++) {
    await Promise.all(Array.from({ length: 4 }, async (_, k) => {
      const i = (round * 4 + k) % 500;
      const pepper = await pepperNow();
      peppersSeen.add(pepper);
      const hash = lookupHash(`user${i}@example.org`, 'email', pepper);
      const res = await request(`${base}/_matrix/identity/v2/lookup`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ algorithm: 'sha256', pepper, addresses: [hash] }),
      });
      const body = await res.body.json() as { mappings?: Record<string, string> };
      assert.equal(res.statusCode, 200, JSON.stringify(body));
      assert.equal(body.mappings?.[hash], `@user${i}:example.org`);
    }));
  }
  assert.ok(lines.some((entry) => entry.msg === 'pepper rotated in every worker'), 'rotations ran through the primary');
  assert.ok(peppersSeen.size >= 3, `several rotations happened (${peppersSeen.size} peppers seen)`);
  // Every connection, whichever worker takes it, gets one pepper. Two are seen only while a
  // rotation (started by the last lookups) is switching: then sample again once it is done.
  const rotationsLogged = () => lines.filter((entry) => entry.msg === 'pepper rotated in every worker').length;
  for (let attempt = 0; ; attempt++) {
    const before = rotationsLogged();
    const finals = new Set(await Promise.all(Array.from({ length: 10 }, () => pepperNow())));
    if (finals.size === 1) break;
    assert.ok(attempt < 3, `workers disagree on the pepper: ${finals.size} seen`);
    while (rotationsLogged() === before) await once(child.stdout!, 'data');
  }
});
