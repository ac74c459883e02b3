/** The email plugin: SMTP and the mail templates (app.mailer). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';

const config = {
  email: {
    from: { doc: 'Sender address of mails, used by the built-in templates.', format: String, default: 'unisd <noreply@localhost>' },
    smtp: {
      host: { doc: 'SMTP server host.', format: String, default: 'localhost' },
      port: { doc: 'SMTP server port.', format: 'port', default: 25 },
      tls: { doc: 'none, starttls (upgrade, required) or tls (implicit TLS, port 465).', format: ['none', 'starttls', 'tls'], default: 'none' },
      verifyTls: { doc: 'Verify the SMTP server certificate.', format: 'boolean', default: true },
      login: { doc: 'SMTP login; empty for none.', format: String, default: '' },
      password: { doc: 'SMTP password.', format: String, default: '', sensitive: true },
    },
    templates: {
      validation: { doc: 'RFC 822 template of the validation mail; empty for config/templates/validation.eml.', format: String, default: '' },
      invite: { doc: 'RFC 822 template of the invitation mail; empty for config/templates/invite.eml.', format: String, default: '' },
      unbind: { doc: 'RFC 822 template of the unbind notice; empty for config/templates/unbind.eml.', format: String, default: '' },
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'email',
  description: 'mail over SMTP from RFC 822 templates (app.mailer)',
  config,
  example: `
email:
  from: Example identity server <noreply@example.org>
  smtp:
    host: smtp.example.org
    port: 587
    # none, starttls (required upgrade) or tls (implicit TLS, usually port 465).
    tls: starttls
    verifyTls: true
    login: unisd
    # Secret: prefer UNISD_EMAIL_SMTP_PASSWORD.
    password: change-me
  templates:
    # RFC 822 templates; empty for the built-in ones.
    validation: ""
    invite: ""
    unbind: ""
`,
  enabled: () => true,
  plugin: () => import('./index.js'),
});
