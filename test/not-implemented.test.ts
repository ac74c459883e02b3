import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notImplementedWarnings } from '../core/not-implemented.js';
import { testConfig } from './helpers/app.js';

test('not implemented yet: nothing is left; the defaults (hash lookup on) warn of nothing', () => {
  assert.deepEqual(notImplementedWarnings(testConfig()), []);
});
