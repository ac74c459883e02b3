/**
 * The unified view's commands and their options.
 * - `unisd unified-view push -c config.yaml [--hub URL]`: one push now to every configured hub
 *   (or one), with the server's own hash sources and signing key, then a line per hub. It builds
 *   the app as the server would, without listening (so nothing else is pushed). Progress goes to
 *   stderr as log lines; the result to stdout.
 * - `unisd lookup --hub URL [tokens] medium:address ...`: the client's whole discovery
 *   (plugins/unified-view/client.ts), one line per address.
 */
import pino from 'pino';
import { discover, registerWithOpenId, type DiscoveryResult } from '../unified-view/client.js';
import type { Config } from '../../core/config/load.js';
import type { PluginManifest } from '../../core/plugin/manifest.js';
import { buildApp } from '../../core/app.js';
import { UnifiedViewPush, type PushOutcome } from './service.js';
import { PushMetrics } from './metrics.js';
import { baseUrl } from './config.js';
import { CommandError, type UnifiedViewArgs } from './cli-options.js';

export function formatDiscovery(result: DiscoveryResult): string {
  const lines = result.found.map((f) => `${f.medium}:${f.address}  ${f.mxid}  ${f.server ? `(member ${f.server})` : `(hub ${f.foundAt})`}`);
  for (const t of result.notFound) lines.push(`${t.medium}:${t.address}  not found`);
  for (const f of result.failures) lines.push(`member ${f.server}  failed: ${f.error}`);
  return lines.map((line) => `${line}\n`).join('');
}

export async function lookupCommand(args: UnifiedViewArgs): Promise<{ text: string; failed: boolean }> {
  if (!args.hub) throw new CommandError('unisd lookup needs --hub <url>');
  if (args.threepids.length === 0) throw new CommandError('unisd lookup needs addresses: email:alice@example.org msisdn:15551234567');
  if ((args.openId === undefined) !== (args.homeserver === undefined)) throw new CommandError('--openid and --homeserver go together');
  const registered = new Map<string, Promise<string>>();
  const result = await discover(args.threepids, {
    hub: args.hub,
    resolveBaseUrl: (server) => args.bases.get(server) ?? `https://${server}`,
    token: (base, server) => {
      const given = base === baseUrl(args.hub!) ? args.token : args.serverTokens.get(server);
      if (given) return given;
      if (!args.openId) return null;
      if (!registered.has(base)) registered.set(base, registerWithOpenId(base, { access_token: args.openId, matrix_server_name: args.homeserver! }));
      return registered.get(base)!;
    },
  });
  return { text: formatDiscovery(result), failed: result.failures.length > 0 };
}

export function formatOutcome(outcome: PushOutcome): string {
  if (outcome.error) return `${outcome.hub}  failed: ${outcome.error}`;
  if (outcome.peppers === 0) return `${outcome.hub}  up to date`;
  return `${outcome.hub}  ok  ${outcome.threepids} 3PIDs, ${outcome.hashes} hashes for ${outcome.peppers} pepper(s), ${outcome.chunks} chunk(s), ${(outcome.ms / 1000).toFixed(1)} s`;
}

export async function unifiedViewPush(config: Config, plugins: readonly PluginManifest[], hub: string | undefined): Promise<{ text: string; failed: boolean }> {
  if (config.unifiedViewPush.hubs.length === 0) throw new Error('unifiedViewPush.hubs: no hub configured');
  const app = await buildApp(config, { logger: false, plugins });
  let service: UnifiedViewPush | null = null;
  try {
    await app.ready();
    service = new UnifiedViewPush({
      config: config.unifiedViewPush,
      origin: config.server.name,
      signingKey: app.signingKey,
      pool: app.workers,
      sources: () => app.providers.hashSources(),
      log: pino({ level: 'info' }, pino.destination(2)).child({ component: 'unified-view-push' }),
      metrics: new PushMetrics(app.metrics),
    });
    const outcomes = await service.pushNow(hub === undefined ? undefined : matchHub(config, hub));
    return { text: outcomes.map((o) => `${formatOutcome(o)}\n`).join(''), failed: outcomes.some((o) => o.error) };
  } finally {
    await service?.close();
    await app.close();
  }
}

/** The configured URL `hub` names, trailing slashes aside. */
function matchHub(config: Config, hub: string): string {
  const found = config.unifiedViewPush.hubs.find((h) => baseUrl(h.url) === baseUrl(hub));
  if (!found) throw new Error(`--hub ${hub}: not in unifiedViewPush.hubs (${config.unifiedViewPush.hubs.map((h) => h.url).join(', ')})`);
  return found.url;
}
