import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvProvider } from './index.js';

test('csv-directory answers single and bulk lookups from its lines, and nothing else', async () => {
  const provider = csvProvider('email,alice@example.org,@alice:example.org\nmsisdn,15551234567,@bob:example.org\nbroken line\n', 50);
  const signal = new AbortController().signal;
  assert.equal(await provider.lookup({ medium: 'email', address: 'alice@example.org' }, signal), '@alice:example.org');
  assert.equal(await provider.lookup({ medium: 'msisdn', address: 'alice@example.org' }, signal), null);
  assert.deepEqual(await provider.bulkLookup([{ medium: 'msisdn', address: '15551234567' }, { medium: 'email', address: 'x@example.org' }], signal),
    [{ medium: 'msisdn', address: '15551234567', mxid: '@bob:example.org' }]);
});
