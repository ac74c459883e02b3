import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notImplementedWarnings } from '../core/not-implemented.js';
import { testConfig } from './helpers/app.js';

test('not implemented yet: hashing.enabled (on by default) warns; off means silence', () => {
  assert.deepEqual(notImplementedWarnings(testConfig()), ['hashing.enabled is true, but hash lookup is not implemented yet: /v2/hash_details and /v2/lookup are not served']);
  assert.deepEqual(notImplementedWarnings(testConfig({ hashing: { enabled: false } })), []);
});
