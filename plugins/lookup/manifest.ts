/** The lookup plugin: which Matrix ID owns a 3PID (v1 lookups; hash lookup's `hashing` section). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';
import { addFormat, commaList } from '../../core/config/formats.js';

export const LOOKUP_ALGORITHMS = ['sha256', 'none'];
addFormat('lookup-algorithms', 'a list of sha256 (the spec requires it) and optionally none',
  (v) => Array.isArray(v) && v.includes('sha256') && v.every((item) => LOOKUP_ALGORITHMS.includes(item)), commaList);

addFormat('pepper-length', 'a whole number from 8 to 256', (v) => Number.isInteger(v) && (v as number) >= 8 && (v as number) <= 256,
  (text) => (/^\d+$/.test(text.trim()) ? Number(text) : text));

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
    budget: {
      perToken: { doc: 'Addresses one access token may look up per lookup.budget.window on /v2/lookup (0: unlimited); past it 429 M_LIMIT_EXCEEDED with retry_after_ms. Sized for a large address book re-synced a few times a day.', format: 'nat', default: 50_000 },
      perUser: { doc: 'Addresses one user (all their tokens) may look up per lookup.budget.window (0: unlimited).', format: 'nat', default: 100_000 },
      window: { doc: 'The window of the lookup budgets; a budget refills continuously over it.', format: 'duration', default: ms('1h') },
    },
  },
  hashing: {
    enabled: { doc: 'Hash lookup (MSC2134): GET /v2/hash_details and POST /v2/lookup, with pepper rotation. ma1sd documented false as its default; the spec requires these routes.', format: 'boolean', default: true },
    maxAddresses: { doc: 'Most addresses one lookup may ask (v2 /lookup, v1 bulk_lookup); more is 400 M_TOO_LARGE.', format: 'nat', default: 10_000 },
    pepperLength: { doc: 'Length of the pepper (letters and digits from a CSPRNG), at least 8.', format: 'pepper-length', default: 20 },
    rotationPolicy: { doc: 'When the pepper rotates: per_requests (after `requests` lookups) or per_seconds (every `delay`).', format: ['per_requests', 'per_seconds'], default: 'per_seconds' },
    hashStorageType: { doc: 'Where hash tables are kept: in_memory (a compact index each process builds at start and on rotation) or sql (the storage backend: shared by instances, kept across restarts; `store` is read as sql).', format: 'hash-storage-type', default: 'in_memory' as 'sql' | 'in_memory' },
    algorithms: { doc: 'Lookup algorithms offered: sha256 (required by the spec), and none (plain addresses, like the v1 bulk lookup).', format: 'lookup-algorithms', default: ['sha256', 'none'] },
    delay: { doc: 'Rotation period for rotationPolicy per_seconds.', format: 'duration', default: ms('10s') },
    requests: { doc: 'Lookups between rotations for rotationPolicy per_requests.', format: 'nat', default: 10 },
    altPeppers: {
      lifetime: { doc: 'How long a pepper stays accepted after a rotation replaced it (a client that fetched hash_details just before still gets answers).', format: 'duration', default: ms('1m') },
      count: { doc: 'How many replaced peppers stay accepted at most.', format: 'nat', default: 1 },
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'lookup',
  description: 'lookups: v1 lookup and bulk_lookup through local binds and providers; hash lookup (v2 hash_details, lookup) with pepper rotation',
  config,
  example: `
lookup:
  # Lookups are open to anyone: each client (v1: its IP, an IPv6 client's /64) may look up
  # perClient addresses at once, then more as the budget refills over the window. 0: unlimited.
  rateLimit:
    perClient: 10000
    window: 1h
  # v2 /lookup: addresses per window per access token and per user (0: unlimited).
  budget:
    perToken: 50000
    perUser: 100000
    window: 1h

hashing:
  # Hash lookup: GET /v2/hash_details and POST /v2/lookup (ma1sd documented false as its default).
  enabled: true
  # Most addresses in one lookup, v2 /lookup or v1 bulk_lookup (more: 400 M_TOO_LARGE).
  maxAddresses: 10000
  # The pepper: letters and digits from a CSPRNG, at least 8.
  pepperLength: 20
  # per_seconds: rotate the pepper every \`delay\`; per_requests: after \`requests\` lookups.
  rotationPolicy: per_seconds
  # in_memory: a compact index each process builds at start and on rotation;
  # sql (ma1sd's \`store\` too): tables in the storage backend, shared by instances, kept across restarts.
  hashStorageType: in_memory
  # sha256 (required), and none (plain addresses, like the v1 bulk lookup).
  algorithms:
    - sha256
    - none
  delay: 2d 4h 12m 34s
  requests: 10
  # A replaced pepper stays accepted this long (at most \`count\` of them).
  altPeppers:
    lifetime: 1m
    count: 1
`,
  enabled: () => true,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
  primary: () => import('./primary.js'),
});
