import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testApp } from './helpers/app.js';
import { encodeBase64, encodeBase64Url } from '../core/crypto/base64.js';
import { generateSigningKey } from '../core/crypto/signing.js';
import { loadOrCreateSigningKey } from '../core/crypto/key-file.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const APIS = ['/_matrix/identity/v2', '/_matrix/identity/api/v1'];

test('the long-term key is served by id, percent-encoded or not, on v1 and v2 without auth', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  for (const api of APIS) {
    for (const id of ['ed25519:0', 'ed25519%3A0', 'ed25519%3a0']) {
      const res = await app.inject({ method: 'GET', url: `${api}/pubkey/${id}` });
      assert.equal(res.statusCode, 200, `${api} ${id}`);
      assert.deepEqual(res.json(), { public_key: app.signingKey.publicKeyBase64 });
      assert.doesNotMatch(res.json().public_key, /[=\-_]/, 'standard unpadded base64');
    }
  }
});

test('unknown key ids are 404 M_NOT_FOUND and never reach the filesystem', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  for (const id of ['ed25519:1', 'curve25519:0', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'ed25519:0%00']) {
    const res = await app.inject({ method: 'GET', url: `/_matrix/identity/v2/pubkey/${id}` });
    assert.equal(res.statusCode, 404, id);
    assert.equal(res.json().errcode, 'M_NOT_FOUND', id);
  }
});

test('a key id with broken percent-encoding is a 400 Matrix error that browsers can read (CORS)', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  for (const api of APIS) {
    const res = await app.inject({ method: 'GET', url: `${api}/pubkey/ed25519%3`, headers: { origin: 'https://app.element.io' } });
    assert.equal(res.statusCode, 400);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.json().errcode, 'M_UNRECOGNIZED');
    assert.equal(typeof res.json().error, 'string');
    assert.equal(res.headers['access-control-allow-origin'], '*');
  }
});

test('isvalid recognises the long-term key in either base64 alphabet', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const key = app.signingKey.publicKey;
  for (const api of APIS) {
    for (const form of [encodeBase64(key), encodeBase64Url(key), `${encodeBase64(key)}=`]) {
      const res = await app.inject({ method: 'GET', url: `${api}/pubkey/isvalid?public_key=${encodeURIComponent(form)}` });
      assert.deepEqual(res.json(), { valid: true }, form);
    }
    const other = await app.inject({ method: 'GET', url: `${api}/pubkey/isvalid?public_key=${encodeURIComponent(generateSigningKey().publicKeyBase64)}` });
    assert.deepEqual(other.json(), { valid: false });
    const garbage = await app.inject({ method: 'GET', url: `${api}/pubkey/isvalid?public_key=%25%25%25` });
    assert.deepEqual(garbage.json(), { valid: false });
    const missing = await app.inject({ method: 'GET', url: `${api}/pubkey/isvalid` });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().errcode, 'M_MISSING_PARAMS');
  }
});

test('ephemeral keys are valid until they expire', async (t) => {
  const app = await testApp();
  t.after(() => app.close());
  const live = generateSigningKey();
  const expired = generateSigningKey();
  await app.store.invites.putEphemeralKey(live.publicKeyBase64, Date.now() + 60_000);
  await app.store.invites.putEphemeralKey(expired.publicKeyBase64, Date.now() - 1);
  const check = async (publicKey: string) => (await app.inject({ method: 'GET', url: `/_matrix/identity/v2/pubkey/ephemeral/isvalid?public_key=${encodeURIComponent(publicKey)}` })).json();
  assert.deepEqual(await check(live.publicKeyBase64), { valid: true });
  assert.deepEqual(await check(encodeBase64Url(live.publicKey)), { valid: true });
  assert.deepEqual(await check(expired.publicKeyBase64), { valid: false });
  assert.deepEqual(await check(app.signingKey.publicKeyBase64), { valid: false }, 'the long-term key is not an ephemeral key');
});

test('processes creating the signing key at the same instant all get the one key the file holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-key-race-'));
  const script = fileURLToPath(new URL('./fixtures/create-signing-key.ts', import.meta.url));
  try {
    for (let round = 0; round < 2; round++) {
      const path = join(dir, `round-${round}`, 'signing.key');
      const children = Array.from({ length: 6 }, () => spawn(process.execPath, ['--import', 'tsx', script, path]));
      const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
      // Every process has loaded and waits on stdin: release them all at once.
      for (const line of lines) assert.equal((await line.next()).value, 'loaded');
      for (const child of children) child.stdin.write('go\n');
      const keys = await Promise.all(lines.map(async (line) => (await line.next()).value as string));
      assert.deepEqual(keys, Array(6).fill(loadOrCreateSigningKey(path).publicKeyBase64), `round ${round}`);
      assert.deepEqual(readdirSync(join(dir, `round-${round}`)), ['signing.key'], 'no file written aside is left');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
