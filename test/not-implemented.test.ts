import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notImplementedWarnings } from '../core/not-implemented.js';
import { testConfig } from './helpers/app.js';

test('not implemented yet: the providers warn when switched on; the defaults (hash lookup on) and off mean silence', () => {
  assert.deepEqual(notImplementedWarnings(testConfig()), []);
  const all = notImplementedWarnings(testConfig({ sql: { enabled: true }, synapseSql: { enabled: true }, exec: { enabled: true } }));
  assert.deepEqual(all.map((line) => line.split(' ')[0]), ['sql.enabled', 'synapseSql.enabled', 'exec.enabled']);
  for (const line of all) assert.doesNotMatch(line, /\n/);
});
