/** The terms plugin (MSC2140): GET/POST /terms and the terms gate of v2. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { policySection } from './config.js';

const config = {
  policy: policySection,
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'terms',
  description: 'terms of service: GET/POST /terms and the gate v2 applies',
  config,
  example: `
policy:
  # Terms of service (MSC2140). No policies: terms are off. A v2 request whose path matches a
  # policy's regexp needs the user to have accepted the policy's current version.
  policies:
    privacy_policy:
      version: 1.0
      terms:
        en:
          name: Privacy policy
          url: https://id.example.org/terms/privacy-en.html
        fr:
          name: Politique de confidentialité
          url: https://id.example.org/terms/privacy-fr.html
      regexp:
        - '/_matrix/identity/v2/account.*'
        - '/_matrix/identity/v2/hash_details'
        - '/_matrix/identity/v2/lookup'
`,
  enabled: () => true,
  plugin: () => import('./index.js'),
});
