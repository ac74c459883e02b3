/**
 * MSC4004's member side: push this server's hashed 3PIDs to the hubs of a unified view
 * (`unifiedViewPush.*`), so that lookups at a hub point clients here.
 */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';
import type { HubConfig } from './config.js';
import './config.js';

const config = {
  unifiedViewPush: {
    enabled: { doc: 'Push the hashes of this server\'s 3PIDs (binds and hash-source providers) to the hubs below (MSC4004 member).', format: 'boolean', default: false },
    hubs: {
      doc: 'The hubs: {url (base URL), server (the hub\'s server.name), auth: signature (X-Matrix, this server\'s ed25519 key) or secret, secret}. Masked as a whole: it holds secrets.',
      format: 'unified-view-hubs', default: [] as HubConfig[], sensitive: true,
    },
    pollInterval: { doc: 'How often each hub\'s peppers are read (its hash_details, with this server\'s member credentials): a new pepper, current or alternate, is pushed at the next poll.', format: 'duration', default: ms('30s') },
    pushInterval: { doc: 'Full push to every hub on this schedule (providers\' data can change without unisd knowing).', format: 'duration', default: ms('6h') },
    debounce: { doc: 'After a bind or unbind, wait this long (gathering the ones that follow) before pushing.', format: 'duration', default: ms('5s') },
    chunkHashes: { doc: 'Hashes per pushed chunk: at most the hub\'s unifiedView.maxChunkHashes.', format: 'nat', default: 50_000 },
    timeout: { doc: 'Deadline of each request to a hub (connect, headers, body).', format: 'duration', default: ms('30s') },
    retry: {
      attempts: { doc: 'Tries of one request that failed in passing (network, 5xx, 429) before the push is given up and retried later.', format: 'nat', default: 5 },
      initialDelay: { doc: 'First wait before retrying; doubled after each failure.', format: 'duration', default: ms('1s') },
      maxDelay: { doc: 'Longest wait between retries (of a request, and of a failed push).', format: 'duration', default: ms('10m') },
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'unified-view-push',
  description: 'MSC4004 member: pushes hashed 3PIDs to unified-view hubs',
  config,
  example: `
unifiedViewPush:
  # Push the hashes of this server's 3PIDs to the hubs below (MSC4004 member).
  enabled: false
  # Each hub: base URL, its server.name, and auth signature (this server's ed25519 key; the hub
  # lists this server.name) or secret (the secret the hub lists for it). Prefer
  # UNISD_UNIFIED_VIEW_PUSH_HUBS (JSON) when a secret is in it.
  hubs:
    - { url: https://id.hub.example.org, server: id.hub.example.org, auth: signature }
  # Read each hub's hash_details this often: a new pepper is pushed at the next poll.
  pollInterval: 30s
  # Full push on this schedule.
  pushInterval: 6h
  # After a bind or unbind, wait this long (gathering the ones that follow) before pushing.
  debounce: 5s
  # Hashes per chunk: at most the hub's unifiedView.maxChunkHashes.
  chunkHashes: 50000
  # Deadline of each request to a hub.
  timeout: 30s
  retry:
    attempts: 5
    initialDelay: 1s
    maxDelay: 10m
`,
  enabled: (c) => c.unifiedViewPush.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
