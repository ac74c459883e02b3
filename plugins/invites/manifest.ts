/** The invites plugin: store-invite, sign-ed25519 and the 3pid/onbind queue. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';

const config = {
  invites: {
    lifetime: { doc: 'How long a stored invitation (and its ephemeral key) stays pending.', format: 'duration', default: ms('7d') },
    rateLimit: {
      perAddress: { doc: 'Invitation mails to one address per window (0: unlimited).', format: 'nat', default: 10 },
      perInviter: { doc: 'store-invite calls per inviter per window: the token\'s user on v2, the client IP (an IPv6 client\'s /64) on v1 (0: unlimited).', format: 'nat', default: 100 },
      window: { doc: 'Window of the invitation rate limits.', format: 'duration', default: ms('1h') },
    },
  },
  onbind: {
    maxAttempts: { doc: 'Delivery attempts of a 3pid/onbind notification before it is dropped (0 = keep trying).', format: 'nat', default: 0 },
    initialBackoff: { doc: 'Delay before the first retry; doubles on each failure.', format: 'duration', default: ms('5s') },
    maxBackoff: { doc: 'Longest delay between retries.', format: 'duration', default: ms('1h') },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'invites',
  description: 'invitations: store-invite, sign-ed25519, 3pid/onbind delivery',
  config,
  example: `
invites:
  # How long a pending invitation (store-invite) and its ephemeral key stay valid.
  lifetime: 7d
  # store-invite mails text partly chosen by the inviter: limit how often one address is mailed
  # and how many invitations one inviter (v2: the token's user; v1: the client IP) sends. 0: unlimited.
  rateLimit:
    perAddress: 10
    perInviter: 100
    window: 1h

onbind:
  # Delivery of 3pid/onbind to homeservers once an invited address is bound; retried with a
  # doubling delay. 0 attempts = keep trying.
  maxAttempts: 0
  initialBackoff: 5s
  maxBackoff: 1h
`,
  enabled: () => true,
  dependencies: ['email'],
  plugin: () => import('./index.js'),
});
