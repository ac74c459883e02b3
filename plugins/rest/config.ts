/**
 * The `rest` section, with ma1sd's key names (`rest.enabled`, `rest.host`,
 * `rest.endpoints.identity.single` and `.bulk`, same defaults). unisd adds the listing endpoint
 * hash lookup reads (`rest.endpoints.identity.all`, `rest.hashEnabled`, `rest.pageSize`), a
 * bearer token, a timeout and a response size cap. ma1sd's other REST endpoints (auth,
 * directory, profile) are accepted and ignored, so its configs load unchanged.
 */
import { parseDuration } from '../../core/config/duration.js';

const endpoint = (what: string, path: string) => ({
  doc: `Endpoint of ${what}: a path (appended to rest.host) or a whole URL; empty turns it off.`,
  format: String, default: path,
});

const ignored = (feature: string, path: string) => ({
  doc: `ma1sd's ${feature} endpoint: unisd does not serve that feature; accepted so ma1sd configurations load, and ignored.`,
  format: String, default: path,
});

export const restSection = {
  enabled: { doc: 'Identity provider asking an HTTP backend written for ma1sd\'s REST store.', format: 'boolean', default: false },
  host: { doc: 'Base URL of the backend (http:// or https://), before the endpoint paths. Trusted configuration: the SSRF guard does not apply to it.', format: String, default: '' },
  bearerToken: { doc: 'Sent as "Authorization: Bearer <token>" to every endpoint; empty sends none.', format: String, default: '', sensitive: true },
  timeout: { doc: 'Deadline of one request to the backend (a lookup is also bound by providers.timeout).', format: 'duration', default: parseDuration('10s') },
  maxResponseBytes: { doc: 'Largest answer read from the backend; a larger one fails the request.', format: 'nat', default: 4_194_304 },
  hashEnabled: { doc: 'Let hash lookup read every mapping from rest.endpoints.identity.all, page by page.', format: 'boolean', default: false },
  pageSize: { doc: 'Mappings asked per page of rest.endpoints.identity.all (1 to 1000).', format: 'nat', default: 1000 },
  endpoints: {
    identity: {
      single: endpoint('a single lookup (POST)', '/_ma1sd/backend/api/v1/identity/single'),
      bulk: endpoint('a bulk lookup (POST)', '/_ma1sd/backend/api/v1/identity/bulk'),
      all: endpoint('the paged listing of every mapping, for hash lookup (GET; unisd\'s)', '/_unisd/backend/api/v1/identity/all'),
    },
    auth: ignored('authentication', '/_ma1sd/backend/api/v1/auth/login'),
    directory: ignored('user directory', '/_ma1sd/backend/api/v1/directory/user/search'),
    profile: {
      displayName: ignored('profile display name', '/_ma1sd/backend/api/v1/profile/displayName'),
      threepids: ignored('profile 3PIDs', '/_ma1sd/backend/api/v1/profile/threepids'),
      roles: ignored('profile roles', '/_ma1sd/backend/api/v1/profile/roles'),
    },
  },
};
