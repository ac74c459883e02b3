/**
 * `matrix.v2`: /_matrix/identity/v2. Routes need a bearer token (also read from the
 * `access_token` query parameter, which Synapse still sends on hash_details), then the user
 * must have accepted the terms whose regexps match the request path. A plugin may accept a
 * server's credentials on a route besides tokens (IdentityApi.acceptCredentials).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_PREFIX, asHandler, type IdentityRoute } from '../../core/api.js';
import { MatrixError, unauthorized } from '../../core/errors.js';

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match) return match[1];
  }
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.access_token === 'string' && query.access_token !== '' ? query.access_token : null;
}

/**
 * The path the router matched: the route's path with its decoded parameters filled in. The terms
 * regexps must see `/account` however the client spelled it (`/acc%6Funt` reaches the same route).
 */
function routedPath(request: FastifyRequest): string {
  const params = request.params as Record<string, string>;
  return request.routeOptions.url!.replace(/:(\w+)/g, (_, name: string) => params[name] ?? '');
}

export default async function v2Api(app: FastifyInstance): Promise<void> {
  const gate = (route: IdentityRoute) => async (request: FastifyRequest) => {
    const auth = route.auth ?? 'token';
    if (auth === 'none') return;
    for (const admits of app.identityApi.credentialsFor(route)) if (await admits(request)) return;
    const token = bearerToken(request);
    request.account = token ? await app.accounts.authenticate(token) : null;
    if (auth === 'optional' && token === null) return;
    if (!request.account) throw token ? new MatrixError(401, route.unknownToken ?? 'M_UNAUTHORIZED', 'Unrecognised access token') : unauthorized('Missing access token');
    if (route.terms !== false) await app.terms.requireAccepted(request.account.userId, routedPath(request));
  };

  await app.register(async (v2) => {
    v2.addHook('onRequest', async (request) => { request.api = 'v2'; });
    v2.get('', async () => ({}));
    app.identityApi.mount('v2', (route) => {
      // preValidation runs after body parsing, before schema validation: a request without valid
      // credentials gets 401 before any complaint about its fields (a body that is not JSON is refused first).
      v2.route({ method: route.method, url: route.url, schema: route.schema, preValidation: gate(route), handler: asHandler(route) });
    });
  }, { prefix: API_PREFIX.v2 });
}
