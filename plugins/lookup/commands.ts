/**
 * `unisd hash status` and `unisd hash rotate`: read, or move, the shared pepper state in the
 * storage backend. A running server adopts a pepper rotated here when it next reads the state
 * (on a hash_details request, at most once a second, or at its own rotation time) and keeps
 * accepting the previous one meanwhile.
 */
import type { Config } from '../../core/config/load.js';
import type { PluginManifest } from '../../core/plugin/manifest.js';
import { buildApp } from '../../core/app.js';
import { openStore } from '../../core/store/index.js';

const age = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

export async function hashStatus(config: Config): Promise<string> {
  const store = await openStore(config.storage);
  try {
    const state = await store.peppers.getPepperState();
    if (!state) return 'no pepper yet: the first server start creates one\n';
    const { hashing } = config;
    const now = Date.now();
    const lines = [
      `pepper: ${state.pepper.length} characters, current since ${new Date(state.rotatedAt).toISOString()} (${age(now - state.rotatedAt)} ago)`,
      `rotation: ${hashing.rotationPolicy === 'per_seconds' ? `every ${age(hashing.delay)}` : `after ${hashing.requests} lookups (${state.requestCount} so far)`}`,
      `alternate peppers still accepted: ${now < state.rotatedAt + hashing.altPeppers.lifetime ? Math.min(state.altPeppers.length, hashing.altPeppers.count) : 0}`,
    ];
    if (hashing.hashStorageType === 'in_memory') {
      lines.push('tables: in_memory, built by each server process (its log says "hash table built" with entries and ms)');
    } else {
      const tables = store.hashes;
      lines.push(`table of the current pepper: ${await tables.size(state.pepper)} entries`);
      for (const pepper of state.altPeppers) lines.push(`table of an alternate pepper: ${await tables.size(pepper)} entries`);
    }
    lines.push('last rotation duration: the server log line "pepper rotated" (ms)');
    return `${lines.join('\n')}\n`;
  } finally {
    await store.close();
  }
}

/** Rotates now: builds the new table (for sql storage, the one the servers will read) and swaps the state. */
export async function hashRotate(config: Config, plugins: readonly PluginManifest[]): Promise<string> {
  if (!config.hashing.enabled) throw new Error('hashing.enabled is false: there is no pepper to rotate');
  const app = await buildApp(config, { logger: false, plugins });
  try {
    await app.ready();
    const before = app.hashLookup!.rotation.pepper;
    await app.hashLookup!.rotation.rotate();
    const status = await app.hashLookup!.rotation.status();
    return `pepper rotated (${status.pepper === before ? 'unchanged?' : 'new pepper current'}); running servers switch on their next read of the state\n`;
  } finally {
    await app.close();
  }
}
