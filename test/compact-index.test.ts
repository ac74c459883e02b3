/** The compact hash index (plugins/lookup/compact-index.ts): spec vectors, growth, removal, the JSON answer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AskedHashes, CompactHashIndex, decodeDigest, jsonKey } from '../plugins/lookup/compact-index.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';

// identity-service-api.md, "Client behaviour": the pepper "matrixrocks".
const SPEC_VECTORS: Array<[address: string, medium: string, hash: string]> = [
  ['alice@example.com', 'email', '4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc'],
  ['bob@example.com', 'email', 'LJwSazmv46n0hlMlsb_iYxI0_HXEqy_yj6Jm636cdT8'],
  ['18005552067', 'msisdn', 'nlo35_T5fzSGZzJApqu8lgIudJvmOQtDaHtr-I4rU7I'],
];

const digestWords = (texts: string[]): Uint32Array => {
  const bytes = new Uint8Array(texts.length * 32);
  texts.forEach((text, i) => bytes.set(createHash('sha256').update(text).digest(), i * 32));
  return new Uint32Array(bytes.buffer);
};

test('the spec vectors, added as binary digests, are found by their base64url hashes', () => {
  const index = new CompactHashIndex();
  index.addDigests(digestWords(SPEC_VECTORS.map(([a, m]) => `${a} ${m} matrixrocks`)), ['@alice:example.org', '@bob:example.org', '@phone:example.org']);
  assert.equal(index.size, 3);
  assert.equal(index.get(SPEC_VECTORS[0][2]), '@alice:example.org');
  assert.equal(index.get(SPEC_VECTORS[1][2]), '@bob:example.org');
  assert.equal(index.get(SPEC_VECTORS[2][2]), '@phone:example.org');
  assert.equal(index.get(lookupHash('carol@example.com', 'email', 'matrixrocks')), null);
});

test('decodeDigest accepts only canonical 43-character base64url', () => {
  const out = new Uint8Array(32);
  assert.equal(decodeDigest(SPEC_VECTORS[0][2], out), true);
  assert.deepEqual(Buffer.from(out), Buffer.from(SPEC_VECTORS[0][2], 'base64url'));
  // Same bytes with the spare bits set: not what a client computing the spec's hash sends.
  assert.equal(decodeDigest(`${SPEC_VECTORS[0][2].slice(0, 42)}d`, out), false);
  assert.equal(decodeDigest(`${SPEC_VECTORS[0][2]}=`, out), false);
  assert.equal(decodeDigest(SPEC_VECTORS[0][2].replace('4', '+'), out), false);
  assert.equal(decodeDigest(SPEC_VECTORS[0][2].slice(0, 42), out), false);
  assert.equal(decodeDigest('é'.repeat(43), out), false);
});

test('the answer is one JSON object keyed by the client\'s strings; misses and junk are left out', () => {
  const index = new CompactHashIndex();
  index.set(SPEC_VECTORS[0][2], '@alice:example.org');
  index.set(SPEC_VECTORS[2][2], '@"quoted\\":example.org');
  index.set(SPEC_VECTORS[1][2], '@lone\ud800\u0001:example.org');
  const keys = [SPEC_VECTORS[0][2], 'not a hash', SPEC_VECTORS[1][2], SPEC_VECTORS[2][2], '"}'];
  const { json, found } = index.answerJson(new AskedHashes(keys));
  assert.equal(found, 3);
  assert.deepEqual(JSON.parse(json), { [SPEC_VECTORS[0][2]]: '@alice:example.org', [SPEC_VECTORS[1][2]]: '@lone\ud800\u0001:example.org', [SPEC_VECTORS[2][2]]: '@"quoted\\":example.org' });
  assert.ok(json.includes('\\ud800'), 'a lone surrogate is escaped, as JSON.stringify does');
  assert.deepEqual(index.answerJson(new AskedHashes([])), { json: '{}', found: 0 });
});

test('decodeDigest writes at an offset, leaving the bytes around it alone', () => {
  const out = new Uint8Array(96).fill(7);
  assert.equal(decodeDigest(SPEC_VECTORS[1][2], out, 32), true);
  assert.deepEqual(Buffer.from(out.subarray(32, 64)), Buffer.from(SPEC_VECTORS[1][2], 'base64url'));
  assert.ok(out.subarray(0, 32).every((b) => b === 7) && out.subarray(64).every((b) => b === 7));
});

test('a hash asked twice is one key of the answer; the positions answered, repeats included, are closed', () => {
  const [alice, bob, phone] = SPEC_VECTORS.map(([, , hash]) => hash);
  const index = new CompactHashIndex();
  index.set(alice, '@alice:example.org');
  index.set(bob, '@bob:example.org');
  const asked = new AskedHashes([alice, 'junk', bob, alice, phone, bob, phone, alice]);
  assert.deepEqual([...asked.open], [1, 0, 1, 1, 1, 1, 1, 1], 'junk is closed from the start');
  const { json, found } = index.answerJson(asked);
  assert.equal(json, `{"${alice}":"@alice:example.org","${bob}":"@bob:example.org"}`);
  assert.equal(found, 2);
  assert.deepEqual([...asked.open], [0, 0, 0, 0, 1, 0, 1, 0], 'only the unmapped phone hash stays open, at both positions');
});

test('answerEach answers the open positions only (what mappings left), each hash once, and closes them', () => {
  const [alice, bob, phone] = SPEC_VECTORS.map(([, , hash]) => hash);
  const own = new CompactHashIndex();
  own.set(alice, '@alice:example.org');
  const members = new CompactHashIndex();
  for (const hash of [alice, bob, phone]) members.set(hash, `member of ${hash.slice(0, 4)}`);
  const asked = new AskedHashes([bob, alice, phone, bob, alice, 'junk']);
  own.answerJson(asked);
  const answered: Array<[string, string]> = [];
  members.answerEach(asked, (hash, value) => answered.push([hash, value]));
  assert.deepEqual(answered, [[bob, `member of ${bob.slice(0, 4)}`], [phone, `member of ${phone.slice(0, 4)}`]], 'alice is the hub\'s own; bob asked twice is listed once');
  assert.deepEqual([...asked.open], [0, 0, 0, 0, 0, 0]);
  members.answerEach(asked, () => assert.fail('a closed position is answered again'));
});

test('jsonKey writes base64url plainly and escapes anything else', () => {
  assert.equal(jsonKey('abc-_09'), '"abc-_09"');
  assert.equal(jsonKey('alice@example.org email'), '"alice@example.org email"');
  assert.equal(jsonKey('a"b\\c\n'), JSON.stringify('a"b\\c\n'));
});

test('a digest already present keeps its first owner unless replaced (sources in priority order; binds replace)', () => {
  const index = new CompactHashIndex();
  const words = digestWords(['x email p']);
  index.addDigests(words, ['@first:example.org']);
  index.addDigests(words, ['@second:example.org']);
  assert.equal(index.size, 1);
  assert.equal(index.get(lookupHash('x', 'email', 'p')), '@first:example.org');
  index.addDigests(words, ['@bound:example.org'], true);
  assert.equal(index.get(lookupHash('x', 'email', 'p')), '@bound:example.org');
});

test('grows past its initial capacity and slot table, 50,000 entries all found, strangers not', () => {
  const index = new CompactHashIndex();
  const texts = Array.from({ length: 50_000 }, (_, i) => `user${i}@example.org email p`);
  for (let i = 0; i < texts.length; i += 1000) {
    index.addDigests(digestWords(texts.slice(i, i + 1000)), Array.from({ length: Math.min(1000, texts.length - i) }, (_, j) => `@u${(i + j) % 7}:example.org`));
  }
  assert.equal(index.size, 50_000);
  for (let i = 0; i < 50_000; i += 997) assert.equal(index.get(lookupHash(`user${i}@example.org`, 'email', 'p')), `@u${i % 7}:example.org`);
  for (let i = 0; i < 1000; i++) assert.equal(index.get(lookupHash(`stranger${i}@example.org`, 'email', 'p')), null);
});

test('sized for its entries (a rebuild knows the previous size), it holds at most 64 bytes per entry', () => {
  const index = new CompactHashIndex(50_000);
  const texts = Array.from({ length: 50_000 }, (_, i) => `user${i}@example.org email p`);
  index.addDigests(digestWords(texts), texts.map(() => '@u:example.org'));
  assert.ok(index.bytes / index.size <= 64, `${index.bytes / index.size} bytes per entry`);
});

test('removal: only with the right owner; removed hashes miss, others still hit across tombstones, slots are reused', () => {
  const index = new CompactHashIndex();
  const hashes = Array.from({ length: 5000 }, (_, i) => lookupHash(`a${i}@example.org`, 'email', 'p'));
  hashes.forEach((hash, i) => index.set(hash, `@u${i}:example.org`));
  assert.equal(index.delete(hashes[0], '@someone-else:example.org'), false);
  assert.equal(index.get(hashes[0]), '@u0:example.org');
  for (let i = 0; i < 5000; i += 2) assert.equal(index.delete(hashes[i], `@u${i}:example.org`), true);
  assert.equal(index.size, 2500);
  for (let i = 0; i < 5000; i++) assert.equal(index.get(hashes[i]), i % 2 ? `@u${i}:example.org` : null);
  const bytes = index.bytes;
  // Adding and removing many times over does not grow the arrays: freed entries and tombstones are reused.
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 5000; i += 2) index.set(hashes[i], `@again${i}:example.org`);
    for (let i = 0; i < 5000; i += 2) index.delete(hashes[i]);
  }
  assert.equal(index.bytes, bytes);
  assert.equal(index.size, 2500);
  for (let i = 1; i < 5000; i += 2) assert.equal(index.get(hashes[i]), `@u${i}:example.org`);
});

test('entries() lists every live entry once, for copying to the store', () => {
  const index = new CompactHashIndex();
  SPEC_VECTORS.forEach(([, , hash], i) => index.set(hash, `@u${i}:example.org`));
  index.delete(SPEC_VECTORS[1][2]);
  const all = [...index.entries(2)].flat().sort((a, b) => a.mxid.localeCompare(b.mxid));
  assert.deepEqual(all, [{ hash: SPEC_VECTORS[0][2], mxid: '@u0:example.org' }, { hash: SPEC_VECTORS[2][2], mxid: '@u2:example.org' }]);
});

test('MemoryHashTables honours the HashTableStore port: replace (first wins), lookup, add, remove, retain, size', async () => {
  const { MemoryHashTables } = await import('../plugins/lookup/memory-tables.js');
  const tables = new MemoryHashTables();
  const [a, b, c] = SPEC_VECTORS.map(([, , hash]) => hash);
  await tables.replace('matrixrocks', [[{ hash: a, mxid: '@a:x' }, { hash: b, mxid: '@b:x' }], [{ hash: a, mxid: '@later:x' }]]);
  assert.deepEqual(await tables.lookup('matrixrocks', [a, b, c]), [{ hash: a, mxid: '@a:x' }, { hash: b, mxid: '@b:x' }]);
  assert.deepEqual(await tables.lookup('other', [a]), []);
  await tables.add('matrixrocks', [{ hash: c, mxid: '@c:x' }, { hash: a, mxid: '@rebound:x' }]);
  await tables.add('other', [{ hash: c, mxid: '@c:x' }]);
  assert.equal(await tables.size('other'), 0);
  await tables.remove('matrixrocks', [{ hash: b, mxid: '@not-b:x' }, { hash: c, mxid: '@c:x' }]);
  assert.deepEqual(await tables.lookup('matrixrocks', [a, b, c]), [{ hash: a, mxid: '@rebound:x' }, { hash: b, mxid: '@b:x' }]);
  assert.equal(await tables.size('matrixrocks'), 2);
  // A replacement that fails leaves the previous table.
  await assert.rejects(tables.replace('matrixrocks', (async function* () { yield [{ hash: c, mxid: '@c:x' }]; throw new Error('source down'); })()));
  assert.equal(await tables.size('matrixrocks'), 2);
  await tables.retain([]);
  assert.equal(await tables.size('matrixrocks'), 0);
});

test('emailSpellings: a case-folded address and the lower-case spellings that fold to it (ß, final ς), at most 8', async () => {
  const { emailSpellings, hashInputs } = await import('../plugins/lookup/table-builder.js');
  const { caseFold } = await import('../core/unicode-case.js');
  assert.deepEqual(emailSpellings('alice@example.org'), ['alice@example.org']);
  assert.deepEqual(emailSpellings('strasse@example.org'), ['strasse@example.org', 'straße@example.org']);
  // The domain is never respelled (a domain is lower-cased, not folded).
  assert.deepEqual(emailSpellings('a@strasse.de'), ['a@strasse.de']);
  assert.deepEqual(emailSpellings('οδυσσευσ.σοφοσ@example.gr').length, 4);
  assert.ok(emailSpellings('οδυσσευσ.σοφοσ@example.gr').includes('οδυσσευς.σοφος@example.gr'));
  assert.equal(emailSpellings('sssssssssss@x.org').length, 8);
  // What matrix-js-sdk sends for what the user typed folds to the stored address, and is among the spellings.
  for (const typed of ['Straße@Example.org', 'ΟΔΥΣΣΕΥΣ@example.gr', 'Jessica.Großmann@example.org']) {
    const stored = caseFold(typed);
    assert.ok(emailSpellings(stored).includes(typed.toLowerCase()), typed);
  }
  assert.deepEqual(hashInputs({ medium: 'msisdn', address: '4477', mxid: '@a:x' }), ['4477 msisdn']);
  assert.deepEqual(hashInputs({ medium: 'email', address: 'russ@x.org', mxid: '@a:x' }), ['russ@x.org email', 'ruß@x.org email']);
});
