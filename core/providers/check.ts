/**
 * `unisd providers check`: what an operator runs before switching over. The app is built as the
 * server would build it (every enabled provider plugin registers its provider), offline
 * (core/offline-app.ts: a throwaway in-memory store, without listening); then each provider is
 * asked directly, not through the registry, so that its failure is seen rather than skipped:
 * one lookup of a made-up address, and a count of its hash source, streamed.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/types.js';
import type { PluginManifest } from '../plugin/manifest.js';
import { withOfflineApp } from '../offline-app.js';
import type { IdentityProvider } from './provider.js';
import type { ThreePid } from '../store/port.js';

export interface ProviderCheck {
  name: string;
  /** The kind of failure, or undefined when the provider answered. */
  failure?: string;
  /** Lookup latency in milliseconds; undefined when the provider answers no lookups or failed. */
  lookupMs?: number;
  /** Mappings in the hash source; undefined when it could not be read. */
  mappings?: number;
  /** The provider feeds hash lookup. */
  hashSource: boolean;
}

class Deadline extends Error {}

/** The kind of failure, in words an operator can act on; never a stack. */
function describeFailure(err: unknown): string {
  if (err instanceof Deadline) return 'timeout';
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  const code = e?.code ?? (err as { errors?: NodeJS.ErrnoException[] })?.errors?.[0]?.code;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ECONNRESET') return `unreachable: ${code}`;
  const message = (e?.message ?? String(err)).split('\n')[0];
  // A driver's own connect or statement timeout (pg, mysql2), racing the deadline.
  if (code === 'ETIMEDOUT' || /\btime(d )?out\b/i.test(message)) return 'timeout';
  return `error: ${message || code || e?.name}`;
}

/** An address nobody holds, of a medium the provider serves. */
function madeUp(provider: IdentityProvider): ThreePid | undefined {
  const { media } = provider.capabilities;
  if (media.includes('email')) return { medium: 'email', address: `unisd-providers-check-${randomBytes(6).toString('hex')}@example.invalid` };
  if (media.includes('msisdn')) return { medium: 'msisdn', address: '447700900000' };
  return undefined;
}

async function check(provider: IdentityProvider, timeout: number): Promise<ProviderCheck> {
  const hashSource = Boolean(provider.capabilities.hashSource && provider.mappings);
  const result: ProviderCheck = { name: provider.name, hashSource };
  const threepid = madeUp(provider);
  try {
    if (threepid) {
      const started = performance.now();
      await provider.lookup(threepid, AbortSignal.timeout(timeout));
      result.lookupMs = performance.now() - started;
    }
  } catch (err) {
    return { ...result, failure: describeFailure(err) };
  }
  if (!hashSource) return result;
  // The count may take long on a large directory: it fails only when no batch arrives within the timeout.
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(new Deadline()), timeout);
  try {
    let count = 0;
    for await (const batch of provider.mappings!(idle.signal)) {
      count += batch.length;
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new Deadline()), timeout);
    }
    if (idle.signal.aborted) throw idle.signal.reason;
    return { ...result, mappings: count };
  } catch (err) {
    return { ...result, failure: `hash source: ${describeFailure(idle.signal.aborted ? idle.signal.reason : err)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks every enabled identity provider (local binds aside), one after the other. */
export async function checkProviders(config: Config, plugins?: readonly PluginManifest[]): Promise<ProviderCheck[]> {
  // The check asks providers directly, on the offline app: no hash table is built (closing
  // mid-build would cut it) and no metrics listener competes with the running server's.
  return withOfflineApp(config, plugins, async (app) => {
    const results: ProviderCheck[] = [];
    for (const provider of app.providers.list()) {
      if (provider.priority === 0) continue;
      results.push(await check(provider, config.providers.timeout));
    }
    return results;
  });
}

/** One line per provider: name, ok or failed (kind), lookup latency, hash-source count. */
export function formatChecks(results: ProviderCheck[]): string {
  if (results.length === 0) return 'no identity provider is enabled\n';
  const width = Math.max(...results.map((r) => r.name.length));
  return results.map((r) => {
    const status = r.failure ? `failed (${r.failure})` : 'ok';
    const lookup = r.lookupMs === undefined ? 'lookup -' : `lookup ${r.lookupMs.toFixed(1)} ms`;
    const hash = !r.hashSource ? 'hash source off'
      : r.mappings === undefined ? 'hash source -' : `hash source ${r.mappings} mapping${r.mappings === 1 ? '' : 's'}`;
    return `${r.name.padEnd(width)}  ${status}  ${lookup}  ${hash}\n`;
  }).join('');
}
