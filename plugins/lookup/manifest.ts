/** The lookup plugin: which Matrix ID owns a 3PID (v1 lookups; hash lookup's `hashing` section). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';
import { addFormat, commaList } from '../../core/config/formats.js';

export const LOOKUP_ALGORITHMS = ['sha256', 'none'];
addFormat('lookup-algorithms', `a non-empty list of ${LOOKUP_ALGORITHMS.join(' and/or ')}`,
  (v) => Array.isArray(v) && v.length > 0 && v.every((item) => LOOKUP_ALGORITHMS.includes(item)), commaList);

/** Where hash tables live (core/store/index.ts selects them); ma1sd's `store` is read as `sql`. */
export const HASH_STORAGE_TYPES = ['sql', 'in_memory'];
addFormat('hash-storage-type', `one of ${HASH_STORAGE_TYPES.join(', ')}`,
  (v) => typeof v === 'string' && HASH_STORAGE_TYPES.includes(v), (text) => (text.trim() === 'store' ? 'sql' : text));

const config = {
  lookup: {
    rateLimit: {
      perClient: { doc: 'Addresses one client may look up per window (v1 lookup and bulk_lookup: a client network, IPv4 address or IPv6 /64): the whole budget at once, then refilled continuously; past it 429 M_LIMIT_EXCEEDED with retry_after_ms (0: unlimited).', format: 'nat', default: 10_000 },
      window: { doc: 'Window of lookup.rateLimit.perClient.', format: 'duration', default: ms('1h') },
    },
  },
  hashing: {
    enabled: { doc: 'Hash lookup (MSC2134) with pepper rotation.', format: 'boolean', default: true },
    maxAddresses: { doc: 'Most addresses one bulk lookup may ask; more is 400 M_TOO_LARGE.', format: 'nat', default: 10_000 },
    pepperLength: { doc: 'Length of the pepper.', format: 'nat', default: 20 },
    rotationPolicy: { doc: 'When the pepper rotates: per_requests or per_seconds.', format: ['per_requests', 'per_seconds'], default: 'per_seconds' },
    hashStorageType: { doc: 'Where hashes are kept: sql (the storage backend, shared by instances; `store` is read as sql) or in_memory.', format: 'hash-storage-type', default: 'sql' as 'sql' | 'in_memory' },
    algorithms: { doc: 'Lookup algorithms offered: sha256 and/or none (none = plain addresses, like v1 bulk lookup).', format: 'lookup-algorithms', default: ['sha256'] },
    delay: { doc: 'Rotation period for rotationPolicy per_seconds.', format: 'duration', default: ms('10s') },
    requests: { doc: 'Lookups between rotations for rotationPolicy per_requests.', format: 'nat', default: 10 },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'lookup',
  description: 'lookups: v1 lookup and bulk_lookup through local binds and providers',
  config,
  example: `
lookup:
  # Lookups are open to anyone: each client (v1: its IP, an IPv6 client's /64) may look up
  # perClient addresses at once, then more as the budget refills over the window. 0: unlimited.
  rateLimit:
    perClient: 10000
    window: 1h

hashing:
  # Hash lookup (v2 /hash_details and /lookup).
  enabled: true
  # Most addresses one bulk lookup may ask (400 M_TOO_LARGE past it).
  maxAddresses: 10000
  pepperLength: 20
  # per_seconds: rotate the pepper every \`delay\`; per_requests: after \`requests\` lookups.
  rotationPolicy: per_seconds
  # sql (ma1sd's \`store\` too): hashes kept in the storage backend; in_memory: rebuilt at start.
  hashStorageType: sql
  # sha256, and none (plain addresses, like the v1 bulk lookup).
  algorithms:
    - sha256
    - none
  delay: 2d 4h 12m 34s
  requests: 10
`,
  enabled: () => true,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
