/** The unified-view plugin: a hub of MSC4004 (third-party mappings pushed by trusted member identity servers). */
import { definePlugin } from '../../core/plugin/manifest.js';
import { addFormat, tryJson } from '../../core/config/formats.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';
import { checkMembers, MEMBERS_EXPECTED, type MemberConfig } from './config.js';

// A list of objects: JSON in the environment variable (convict would split it at commas).
addFormat('member-list', MEMBERS_EXPECTED, Array.isArray, tryJson);

const config = {
  unifiedView: {
    enabled: { doc: 'Be a hub of MSC4004 (unified view): accept pushes of the hashes trusted member identity servers own on POST /v2/lookups, and answer them in /v2/lookup\'s third_party_mappings; hash_details lists alt_lookup_peppers. Needs hashing.enabled.', format: 'boolean', default: false },
    members: {
      doc: 'The trusted member identity servers: [{server, url?, publicKey?, secret?, allowedAddresses?}]. `server` is the member\'s server.name (its key in mappings); it authenticates by a request signed with its ed25519 key (pinned as `publicKey`, or fetched from `url`/_matrix/identity/v2/pubkey/<key id>) and/or by `secret` (X-Unisd-Member); `allowedAddresses` (IPs or CIDR ranges) limits where it may push from (the client address, server.trustProxy-aware).',
      format: 'member-list', check: checkMembers, expected: MEMBERS_EXPECTED, sensitive: true, default: [] as MemberConfig[],
    },
    maxChunkHashes: { doc: 'Most hashes in one pushed chunk; more is 413 M_TOO_LARGE (a push body is at most 4 MB whatever this says).', format: 'nat', default: 50_000 },
    memberTimeout: { doc: 'A member that has pushed nothing for this long is dropped: the hub stops pointing to it until it pushes again (never: keep).', format: 'duration-or-never', default: ms('1d') },
    syncInterval: { doc: 'How often the hub re-reads the members\' snapshots from the store (those another hub instance committed) and drops silent members.', format: 'duration', default: ms('10s') },
    rateLimit: {
      perMember: { doc: 'Chunks one member may push per window (0: unlimited); past it 429 M_LIMIT_EXCEEDED.', format: 'nat', default: 3_600 },
      perClient: { doc: 'Push requests, and members\' reads of hash_details, one client address may make per window, authenticated or not (0: unlimited): bounds what strangers can make the hub read and verify.', format: 'nat', default: 3_600 },
      window: { doc: 'Window of the unifiedView rate limits.', format: 'duration', default: ms('1h') },
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'unified-view',
  description: 'MSC4004 hub: third-party mappings pushed by trusted member identity servers (POST /v2/lookups), answered in /v2/lookup',
  config,
  example: `
unifiedView:
  # Be an MSC4004 hub (needs hashing.enabled): members push the hashes they own.
  enabled: false
  # Trusted members. Secret (shared secrets): prefer UNISD_UNIFIED_VIEW_MEMBERS (JSON).
  members:
    # Signed pushes; the key fetched from url (or pinned with publicKey: <base64>).
    - server: id.paris.example.org
      url: https://id.paris.example.org
      allowedAddresses: ["10.1.0.0/16", "2001:db8:1::/48"]
    # A shared secret (at least 16 characters).
    - server: id.lyon.example.org
      secret: change-me-to-a-long-random-secret
  # Most hashes per pushed chunk (413 M_TOO_LARGE past it).
  maxChunkHashes: 50000
  # A member silent this long is dropped (never: keep).
  memberTimeout: 1d
  # Re-read snapshots other hub instances committed, and drop silent members, this often.
  syncInterval: 10s
  rateLimit:
    perMember: 3600
    perClient: 3600
    window: 1h
`,
  enabled: (c) => c.unifiedView.enabled,
  dependencies: ['lookup'],
  plugin: () => import('./index.js'),
});
