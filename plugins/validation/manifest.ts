/** The validation plugin: 3PID validation sessions. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { parseDuration as ms } from '../../core/config/duration.js';

const config = {
  validation: {
    sessionLifetime: { doc: 'How long a validation session stays usable after its last change (the spec: 24h).', format: 'duration', default: ms('24h') },
    resend: { doc: 'When requestToken sends a new token for an existing session (validated or not): on_new_attempt (the spec: only when send_attempt is greater than the last one seen) or always (every request).', format: ['on_new_attempt', 'always'], default: 'on_new_attempt' },
    rateLimit: {
      perAddress: { doc: 'Messages sent to one address per window.', format: 'nat', default: 5 },
      perRequester: { doc: 'requestToken calls from one IP (an IPv6 client: its /64) per window.', format: 'nat', default: 20 },
      perSession: { doc: 'Wrong tokens submitted to one session per window before submitToken answers 429 (stops guessing of SMS codes).', format: 'nat', default: 10 },
      window: { doc: 'Rate limit window.', format: 'duration', default: ms('1h') },
    },
    purgeInterval: { doc: 'How often expired sessions, tokens and invites are purged.', format: 'duration', default: ms('10m') },
    successTemplate: { doc: 'HTML page shown after a browser validates a token; empty for the built-in page.', format: String, default: '' },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'validation',
  description: '3PID validation: requestToken, submitToken, getValidated3pid',
  config,
  example: `
validation:
  # Validation of email addresses and phone numbers (3PID sessions).
  sessionLifetime: 24h
  # A requestToken for an existing session (validated or not) sends a new token only when
  # send_attempt is greater than the last one seen (on_new_attempt, the spec's rule), or on every
  # request (always).
  resend: on_new_attempt
  rateLimit:
    # Per window: messages to one address, requestToken calls from one client address, wrong
    # tokens tried on one session.
    perAddress: 5
    perRequester: 20
    perSession: 10
    window: 1h
  purgeInterval: 10m
  # HTML page shown after a browser follows a validation link; empty for the built-in one.
  successTemplate: ""
`,
  enabled: () => true,
  dependencies: ['email', 'sms'],
  plugin: () => import('./index.js'),
});
