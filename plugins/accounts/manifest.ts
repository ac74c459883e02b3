/** The accounts plugin: identity access tokens and /account. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';

const config = {
  accounts: {
    tokenLifetime: { doc: 'Lifetime of identity access tokens; "never" keeps them until logout.', format: 'duration-or-never', default: 0 },
    allowedHomeservers: { doc: 'Homeserver names allowed to register accounts; empty allows any.', format: 'string-list', default: [] as string[] },
    maxTokensPerUser: { doc: 'Access tokens one user may hold (one per client that registered); a new one beyond it revokes that user\'s oldest (0: no cap).', format: 'nat', default: 100 },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'accounts',
  description: 'identity access tokens: /account/register, /account, /account/logout',
  config,
  example: `
accounts:
  # Lifetime of the access tokens clients get from /v2/account/register; "never" keeps them
  # until logout.
  tokenLifetime: never
  # Homeservers whose users may register; an empty list allows any.
  allowedHomeservers:
    - example.org
  # Tokens one user may hold (each client that registers gets one); a new one beyond it
  # revokes the user's oldest. 0: no cap.
  maxTokensPerUser: 100
`,
  enabled: () => true,
  plugin: () => import('./index.js'),
});
