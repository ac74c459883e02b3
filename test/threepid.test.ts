import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caseFold, formatMsisdn, normaliseAddress, normaliseEmail, normaliseMsisdn } from '../core/threepid.js';

test('email: full Unicode case folding, not just toLowerCase', () => {
  assert.equal(normaliseEmail('Strauß@Example.com'), 'strauss@example.com');
  assert.notEqual('Strauß@Example.com'.toLowerCase(), 'strauss@example.com');
  assert.equal(caseFold('ﬁnance'), 'finance');
  assert.equal(caseFold('ΣΊΣΥΦΟΣ'), caseFold('σίσυφος'));
  assert.equal(normaliseEmail('Bob@EXAMPLE.org'), 'bob@example.org');
});

test('email: trimmed; NFC-composed', () => {
  assert.equal(normaliseEmail('  alice@example.org \n'), 'alice@example.org');
  assert.equal(normaliseEmail('Zoe\u0308@example.org'), 'zo\u00eb@example.org');
});

test('email: not addresses are refused', () => {
  for (const bad of ['', 'alice', 'alice@', '@example.org', 'alice@example', 'a b@example.org', '<alice@example.org>',
    'Alice <alice@example.org>', 'mailto:alice@example.org', 'alice@example.org\r\nBcc: eve@example.org', 'a@b@example.org',
    `${'x'.repeat(250)}@example.org`, 'alice@example.org\u0000', 'al\u0007ice@example.org', 'alice@exam\u007fple.org', 'alice@example.org\u0085']) {
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
