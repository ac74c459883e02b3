import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../core/crypto/canonical-json.js';
import { signJson, signingKeyFromSeed, verifyJsonSignature, generateSigningKey } from '../core/crypto/signing.js';
import { decodeBase64, encodeBase64, encodeBase64Url } from '../core/crypto/base64.js';
import { lookupHash } from '../core/crypto/lookup-hash.js';
import { constantTimeEqual, hashSecret, randomDigits, randomToken } from '../core/crypto/tokens.js';

// appendices.md, "Canonical JSON" examples: [input as written, canonical output]
const CANONICAL_VECTORS: Array<[string, string]> = [
  ['{}', '{}'],
  ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    '{"auth":{"success":true,"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"medium":"email","address":"john.doe@example.org"},{"medium":"msisdn","address":"123456789"}]}}}',
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['{"a": "日本語"}', '{"a":"日本語"}'],
  ['{"本": 2, "日": 1}', '{"日":1,"本":2}'],
  ['{"a": "\\u65E5"}', '{"a":"日"}'],
  ['{"a": null}', '{"a":null}'],
  ['{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'],
];

test('canonical JSON matches every example of the appendices', () => {
  for (const [input, expected] of CANONICAL_VECTORS) assert.equal(canonicalJson(JSON.parse(input)), expected, input);
});

test('canonical JSON escapes control characters as the grammar says and sorts by code point', () => {
  assert.equal(canonicalJson({ a: '\u0001\b\n"\\' }), '{"a":"\\u0001\\b\\n\\"\\\\"}');
  // U+FB01 sorts before U+1F600 by code point, though not by UTF-16 code unit.
  assert.equal(canonicalJson({ '\u{1F600}': 1, '\uFB01': 2 }), '{"\uFB01":2,"\u{1F600}":1}');
  assert.throws(() => canonicalJson({ a: 1.5 }), /integers/);
  assert.throws(() => canonicalJson({ a: 2 ** 53 }), /integers/);
});

// appendices.md, "Cryptographic Test Vectors"
const SEED = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1')!;

test('JSON signing reproduces the appendices test vectors', () => {
  const key = signingKeyFromSeed(SEED, '1');
  assert.deepEqual(signJson({}, 'domain', key), {
    signatures: { domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' } },
  });
  assert.deepEqual(signJson({ one: 1, two: 'Two' }, 'domain', key), {
    one: 1,
    two: 'Two',
    signatures: { domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' } },
  });
});

test('signatures verify, keep unsigned out of the signed bytes, and fail when anything changes', () => {
  const key = generateSigningKey();
  const signed = signJson({ mxid: '@a:b', token: 't', unsigned: { age: 1 } }, 'id.example', key);
  assert.equal(verifyJsonSignature(signed, 'id.example', key.keyId, key.publicKey), true);
  assert.equal(verifyJsonSignature({ ...signed, unsigned: { age: 2 } }, 'id.example', key.keyId, key.publicKey), true);
  assert.equal(verifyJsonSignature({ ...signed, mxid: '@evil:b' }, 'id.example', key.keyId, key.publicKey), false);
  assert.equal(verifyJsonSignature(signed, 'other.example', key.keyId, key.publicKey), false);
  assert.equal(verifyJsonSignature(signed, 'id.example', key.keyId, generateSigningKey().publicKey), false);
  // A second signer adds beside the first
  const twice = signJson(signed, 'other.example', key);
  assert.equal(verifyJsonSignature(twice, 'id.example', key.keyId, key.publicKey), true);
  assert.equal(verifyJsonSignature(twice, 'other.example', key.keyId, key.publicKey), true);
});

test('lookup hashes match the identity spec examples', () => {
  assert.equal(lookupHash('alice@example.com', 'email', 'matrixrocks'), '4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc');
  assert.equal(lookupHash('bob@example.com', 'email', 'matrixrocks'), 'LJwSazmv46n0hlMlsb_iYxI0_HXEqy_yj6Jm636cdT8');
  assert.equal(lookupHash('18005552067', 'msisdn', 'matrixrocks'), 'nlo35_T5fzSGZzJApqu8lgIudJvmOQtDaHtr-I4rU7I');
});

test('base64 is unpadded and decoding accepts both alphabets with or without padding', () => {
  // appendices.md, "Unpadded Base64" examples
  const examples: Array<[string, string]> = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
  for (const [text, encoded] of examples) assert.equal(encodeBase64(Buffer.from(text)), encoded);
  const bytes = new Uint8Array([0xfb, 0xff, 0xfe]);
  assert.equal(encodeBase64(bytes), '+//+');
  assert.equal(encodeBase64Url(bytes), '-__-');
  assert.deepEqual(decodeBase64('-__-'), bytes);
  assert.deepEqual(decodeBase64('Zm8='), new Uint8Array(Buffer.from('fo')));
  assert.equal(decodeBase64('not base64!'), null);
});

test('tokens are random, of the spec charset, and compared in constant time', () => {
  const tokens = new Set(Array.from({ length: 100 }, () => randomToken()));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.match(token, /^[0-9a-zA-Z.=_-]{43}$/);
  assert.match(randomDigits(6), /^\d{6}$/);
  assert.equal(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(constantTimeEqual('abc', 'abc'), true);
  assert.equal(constantTimeEqual('abc', 'abd'), false);
  assert.equal(constantTimeEqual('abc', 'abcd'), false);
});
