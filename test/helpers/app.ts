/**
 * Test harness: a unisd app on an in-memory SQLite store with a fresh signing key and silent
 * logs. `overrides` are config values (same shape as the YAML file).
 */
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../core/config/load.js';
import { buildApp, type BuildOptions } from '../../core/app.js';
import { openSqliteStore } from '../../core/store/sqlite/index.js';
import { generateSigningKey } from '../../core/crypto/signing.js';

export function testConfig(overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: {},
    overrides: deepMerge({ logging: { level: 'silent' }, storage: { sqlite: { path: ':memory:' } }, server: { name: 'id.example.test' } }, overrides),
  });
}

export async function testApp(overrides: Record<string, unknown> = {}, options: BuildOptions = {}): Promise<FastifyInstance> {
  const store = await openSqliteStore(':memory:');
  const app = await buildApp(testConfig(overrides), { store, signingKey: generateSigningKey(), logger: false, ...options });
  await app.ready();
  return app;
}

export function deepMerge(base: Record<string, any>, extra: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    out[key] = value && typeof value === 'object' && !Array.isArray(value) && typeof out[key] === 'object' && out[key] !== null
      ? deepMerge(out[key], value) : value;
  }
  return out;
}
