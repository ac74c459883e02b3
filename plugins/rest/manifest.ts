/** The rest identity provider plugin: an HTTP backend speaking ma1sd's REST store protocol (`rest.*`). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { restSection } from './config.js';

const config = { rest: restSection };

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'rest',
  description: 'identity provider: an HTTP backend written for ma1sd\'s REST store',
  config,
  example: `
rest:
  # An HTTP backend written for ma1sd's REST store (see plugins/rest/README.md).
  enabled: false
  # Trusted configuration: the SSRF guard applies to hosts clients name, not to this one.
  host: https://backend.example.org
  # Secret: prefer UNISD_REST_BEARER_TOKEN. Empty sends no Authorization header.
  bearerToken: change-me
  timeout: 10s
  maxResponseBytes: 4194304
  # Let hash lookup read every mapping from endpoints.identity.all, pageSize at a time.
  hashEnabled: false
  pageSize: 1000
  endpoints:
    identity:
      # Paths are appended to host; whole URLs are used as they are; empty turns one off.
      single: /_ma1sd/backend/api/v1/identity/single
      bulk: /_ma1sd/backend/api/v1/identity/bulk
      all: /_unisd/backend/api/v1/identity/all
    # ma1sd's other endpoints: accepted, ignored.
    auth: /_ma1sd/backend/api/v1/auth/login
    directory: /_ma1sd/backend/api/v1/directory/user/search
    profile:
      displayName: /_ma1sd/backend/api/v1/profile/displayName
      threepids: /_ma1sd/backend/api/v1/profile/threepids
      roles: /_ma1sd/backend/api/v1/profile/roles
`,
  enabled: (c) => c.rest.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
