/**
 * The app as `unisd start` builds it, without what would reach outside or clash with a running
 * server: a throwaway in-memory store and signing key, and never made ready, so no onReady work
 * runs (the first hash table build, which reads every identity provider; the metrics listener,
 * whose port the running server holds; periodic jobs). Registering the plugins runs the checks
 * they make when they start (combinations of keys the schema cannot express, required connector
 * keys, readable certificate and CA files), so a configuration that `start` would refuse is
 * refused here with the same line. For `unisd config check` and `unisd providers check`.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/types.js';
import type { PluginManifest } from './plugin/manifest.js';
import { buildApp } from './app.js';
import { openSqliteStore } from './store/sqlite/index.js';
import { generateSigningKey } from './crypto/signing.js';

/** Builds the offline app (its plugins registered, not ready), runs `use` with it, closes it. */
export async function withOfflineApp<T>(config: Config, plugins: readonly PluginManifest[] | undefined, use: (app: FastifyInstance) => Promise<T>): Promise<T> {
  const store = await openSqliteStore(':memory:');
  let app: FastifyInstance;
  try {
    app = await buildApp(config, { store, signingKey: generateSigningKey(), logger: false, ...(plugins ? { plugins } : {}) });
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    return await use(app);
  } finally {
    await app.close();
  }
}
