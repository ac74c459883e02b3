import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatMsisdn, normaliseAddress, normaliseEmail, normaliseMsisdn } from '../core/threepid.js';
import { caseFold, lowerCase, strip } from '../core/unicode-case.js';

/** Python's answers (test/fixtures/casefold/generate.py): code points that casefold()/lower() change, isspace() code points, canonicalise_email pairs. */
const python = JSON.parse(readFileSync(new URL('./fixtures/casefold/vectors.json', import.meta.url), 'utf8')) as {
  python: string; unicode: string; casefold: Record<string, string>; lower: Record<string, string>; whitespace: string[]; addresses: Array<[string, string | null]>;
};
const hex = (codePoint: number) => codePoint.toString(16).toUpperCase();
const CODE_POINTS = 0x110000;

test('caseFold and lowerCase give what Python 3.11 (Unicode 14.0) gives, on every code point, and are idempotent', () => {
  assert.equal(python.unicode, '14.0.0');
  const mismatches: string[] = [];
  for (let codePoint = 0; codePoint < CODE_POINTS; codePoint++) {
    const char = String.fromCodePoint(codePoint);
    if (caseFold(char) !== (python.casefold[hex(codePoint)] ?? char)) mismatches.push(`casefold U+${hex(codePoint)}`);
    if (lowerCase(char) !== (python.lower[hex(codePoint)] ?? char)) mismatches.push(`lower U+${hex(codePoint)}`);
    if (caseFold(caseFold(char)) !== caseFold(char)) mismatches.push(`casefold twice U+${hex(codePoint)}`);
    if (lowerCase(lowerCase(char)) !== lowerCase(char)) mismatches.push(`lower twice U+${hex(codePoint)}`);
  }
  assert.deepEqual(mismatches, []);
});

test('strip removes exactly the code points Python\'s isspace() holds for', () => {
  const stripped: string[] = [];
  for (let codePoint = 0; codePoint < CODE_POINTS; codePoint++) if (strip(`${String.fromCodePoint(codePoint)}x`) === 'x') stripped.push(hex(codePoint));
  assert.deepEqual(stripped, python.whitespace);
  assert.equal(strip('\u3000\x1c a b \x85\t'), 'a b');
});

test('email: every code point in the local part and the domain, as Synapse canonicalises it; normalising twice changes nothing', () => {
  for (let codePoint = 0; codePoint < CODE_POINTS; codePoint++) {
    const char = String.fromCodePoint(codePoint);
    const normalised = normaliseEmail(`A${char}@B${char}.org`);
    if (normalised === null) continue;
    assert.equal(normalised, `a${python.casefold[hex(codePoint)] ?? char}@b${python.lower[hex(codePoint)] ?? char}.org`, `U+${hex(codePoint)}`);
    assert.equal(normaliseEmail(normalised), normalised, `U+${hex(codePoint)} twice`);
  }
});

test('email: addresses whose folding depends on context (final sigma) or changes length, as Synapse canonicalises them', () => {
  assert.ok(python.addresses.length > 1000);
  for (const [address, canonical] of python.addresses) {
    assert.equal(normaliseEmail(address), canonical, JSON.stringify(address));
    if (canonical !== null) assert.equal(normaliseEmail(canonical), canonical, `twice: ${JSON.stringify(address)}`);
  }
});

test('email: local part case-folded, domain only lower-cased, one spelling for a bind and a lookup', () => {
  assert.equal(normaliseEmail('Strauß@Example.com'), 'strauss@example.com');
  assert.equal(normaliseEmail('STRAẞE@x.org'), normaliseEmail('straße@x.org'));
  assert.equal(normaliseEmail('straße@STRAẞE.de'), 'strasse@straße.de');
  assert.equal(normaliseEmail('ﬁnance@example.org'), 'finance@example.org');
  assert.equal(normaliseEmail('ΣΊΣΥΦΟΣ@example.org'), normaliseEmail('σίσυφος@example.org'));
  assert.equal(normaliseEmail('İ@example.org'), 'i\u0307@example.org');
  assert.equal(normaliseEmail('ı@example.org'), 'ı@example.org');
  assert.equal(normaliseEmail('Bob@EXAMPLE.org'), 'bob@example.org');
});

test('email: stripped as Python strips; no Unicode normalisation form imposed', () => {
  assert.equal(normaliseEmail('  alice@example.org \n'), 'alice@example.org');
  assert.equal(normaliseEmail('\u3000alice@example.org\x85'), 'alice@example.org');
  assert.equal(normaliseEmail('\ufeffalice@example.org'), null);
  assert.equal(normaliseEmail('Zoe\u0308@example.org'), 'zoe\u0308@example.org');
});

test('email: not addresses are refused', () => {
  for (const bad of ['', 'alice', 'alice@', '@example.org', 'alice@example', 'a b@example.org', '<alice@example.org>',
    'Alice <alice@example.org>', 'mailto:alice@example.org', 'alice@example.org\r\nBcc: eve@example.org', 'a@b@example.org',
    `${'x'.repeat(250)}@example.org`, 'alice@example.org\u0000', 'al\u0007ice@example.org', 'alice@exam\u007fple.org', 'alice@exam\u0085ple.org']) {
    assert.equal(normaliseEmail(bad), null, JSON.stringify(bad));
  }
});

test('msisdn: national numbers with the country, E.164 digits without +', () => {
  assert.equal(normaliseMsisdn('07700900001', 'GB'), '447700900001');
  assert.equal(normaliseMsisdn('07700 900 001', 'gb'), '447700900001');
  assert.equal(normaliseMsisdn('0612345678', 'FR'), '33612345678');
  assert.equal(normaliseMsisdn('(202) 555-0123', 'US'), '12025550123');
});

test('msisdn: numbers already international, whatever the country', () => {
  assert.equal(normaliseMsisdn('+44 7700 900001', 'GB'), '447700900001');
  assert.equal(normaliseMsisdn('+44 7700 900001', 'FR'), '447700900001');
  assert.equal(normaliseMsisdn('0044 7700 900001', 'GB'), '447700900001');
  assert.equal(normaliseMsisdn('447700900001'), '447700900001');
  assert.equal(normaliseMsisdn('+33 6 12 34 56 78'), '33612345678');
});

test('msisdn: not phone numbers are refused', () => {
  for (const [bad, country] of [['123', 'GB'], ['abc', 'GB'], ['', 'GB'], ['07700900001', 'XX'], ['1234567890123456789', 'GB'], ['07700900001', undefined]] as const) {
    assert.equal(normaliseMsisdn(bad, country), null, `${bad} ${country}`);
  }
});

test('msisdn: international format for people', () => {
  assert.equal(formatMsisdn('447700900001'), '+44 7700 900001');
});

test('normaliseAddress: one entry point for lookups', () => {
  assert.equal(normaliseAddress('email', ' Strauß@Example.com'), 'strauss@example.com');
  assert.equal(normaliseAddress('msisdn', '+44 7700 900001'), '447700900001');
  assert.equal(normaliseAddress('msisdn', '447700900001'), '447700900001');
  assert.equal(normaliseAddress('email', ' not an address '), 'not an address');
});
