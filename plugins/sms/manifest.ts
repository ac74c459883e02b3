/** The SMS plugin: the connector of sms.connector (app.sms). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';

const config = {
  sms: {
    connector: { doc: 'SMS connector: none or twilio.', format: ['none', 'twilio'], default: 'none' },
    template: { doc: 'SMS text; {token} is replaced by the code.', format: String, default: 'Your validation code is {token}' },
    twilio: {
      accountSid: { doc: 'Twilio account SID.', format: String, default: '' },
      authToken: { doc: 'Twilio auth token.', format: String, default: '', sensitive: true },
      from: { doc: 'Sender number (E.164, with +).', format: String, default: '' },
      baseUrl: { doc: 'Twilio REST API base URL.', format: 'http-url', default: 'https://api.twilio.com' },
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'sms',
  description: 'SMS connector for msisdn validation (app.sms)',
  config,
  example: `
sms:
  # none or twilio.
  connector: twilio
  template: Your example.org validation code is {token}
  twilio:
    accountSid: AC00000000000000000000000000000000
    # Secret: prefer UNISD_SMS_TWILIO_AUTH_TOKEN.
    authToken: change-me
    from: "+15550000000"
    baseUrl: https://api.twilio.com
`,
  enabled: () => true,
  plugin: () => import('./index.js'),
});
