/**
 * The identity API is declared once and mounted twice. Feature plugins add their routes to
 * `fastify.identityApi` with paths relative to the API root (`/3pid/bind`); the `v2` plugin
 * mounts them under /_matrix/identity/v2 behind the bearer-token and terms gates, the `v1`
 * plugin under /_matrix/identity/api/v1 without them, each route as it is added: plugins may
 * load before or after v1/v2, in any order, until the app is ready. A handler sees `request.api` and
 * `request.account` (the token's user on v2, null on v1).
 */
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, FastifySchema, RouteHandlerMethod } from 'fastify';

export type ApiVersion = 'v1' | 'v2';

export const API_PREFIX: Record<ApiVersion, string> = {
  v1: '/_matrix/identity/api/v1',
  v2: '/_matrix/identity/v2',
};

/**
 * The public URL of the API that links and key_validity_urls should name: v2 when it is served,
 * else v1 (a mailed link must work whichever is on).
 */
export function publicApiUrl(config: { server: { publicUrl: string }; matrix: { v2: boolean } }): string {
  return config.server.publicUrl.replace(/\/+$/, '') + API_PREFIX[config.matrix.v2 ? 'v2' : 'v1'];
}

/**
 * How v2 authenticates a route: `token` requires a valid bearer token (401 otherwise) and then
 * applies the terms gate; `none` never reads one (public routes, browser links); `optional`
 * reads a token when one is sent and leaves the decision to the handler (unbind).
 */
export type AuthMode = 'token' | 'none' | 'optional';

export interface IdentityRoute {
  method: 'GET' | 'POST';
  /** Relative to the API root, e.g. `/3pid/bind`. */
  url: string;
  /** Which APIs serve it; default both. */
  apis?: ApiVersion[];
  /** v2 only; default `token`. */
  auth?: AuthMode;
  /** v2 only; false for routes that must never answer M_TERMS_NOT_SIGNED (POST /terms). Default true. */
  terms?: boolean;
  /** v2 only: the errcode of the 401 for a token the server does not know; default M_UNAUTHORIZED (a missing token always is). */
  unknownToken?: 'M_UNAUTHORIZED' | 'M_UNKNOWN_TOKEN';
  schema?: FastifySchema;
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export interface Account {
  userId: string;
  tokenHash: string;
}

/**
 * Credentials other than a user's access token that a plugin accepts on a v2 route it does not
 * own (unified-view: its member servers read GET /hash_details). Resolves false when the request
 * does not carry them (the token gate then decides, as for anybody), true when it carries valid
 * ones (the route then runs without an account and without the terms gate: they are a server's,
 * not a user's), and throws the Matrix error (401, 403, 429) when it carries invalid ones. Only
 * for routes whose handler does not read `request.account`.
 */
export type ServerCredentials = (request: FastifyRequest) => Promise<boolean>;

const serves = (route: IdentityRoute, api: ApiVersion): boolean => (route.apis ?? ['v1', 'v2']).includes(api);

export class IdentityApi {
  readonly routes: IdentityRoute[] = [];
  private readonly mounts: Array<{ api: ApiVersion; mount: (route: IdentityRoute) => void }> = [];
  private readonly credentials = new Map<string, ServerCredentials[]>();
  private ready = false;

  add(...routes: IdentityRoute[]): void {
    if (this.ready) throw new Error('identity API routes can only be added while plugins load');
    for (const route of routes) {
      this.routes.push(route);
      for (const { api, mount } of this.mounts) if (serves(route, api)) mount(route);
    }
  }

  for(api: ApiVersion): IdentityRoute[] {
    return this.routes.filter((route) => serves(route, api));
  }

  /** Calls `mount` with each route `api` serves: those added so far, then each one as it is added. */
  mount(api: ApiVersion, mount: (route: IdentityRoute) => void): void {
    for (const route of this.for(api)) mount(route);
    this.mounts.push({ api, mount });
  }

  /** Lets `credentials` through the v2 gate of the route `method url` (see ServerCredentials), whichever plugin adds that route. */
  acceptCredentials(method: IdentityRoute['method'], url: string, credentials: ServerCredentials): void {
    if (this.ready) throw new Error('identity API credentials can only be added while plugins load');
    const key = `${method} ${url}`;
    this.credentials.set(key, [...(this.credentials.get(key) ?? []), credentials]);
  }

  /** The server credentials accepted on `route` besides access tokens (none for most). */
  credentialsFor(route: IdentityRoute): readonly ServerCredentials[] {
    return this.credentials.get(`${route.method} ${route.url}`) ?? [];
  }

  /** The app is ready: the routes are final. */
  close(): void {
    this.ready = true;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    identityApi: IdentityApi;
  }
  interface FastifyRequest {
    api: ApiVersion | null;
    account: Account | null;
  }
}

export const asHandler = (route: IdentityRoute): RouteHandlerMethod => route.handler as RouteHandlerMethod;

export default fp(async (app) => {
  const identityApi = new IdentityApi();
  app.decorate('identityApi', identityApi);
  app.addHook('onReady', async () => identityApi.close());
  app.decorateRequest('api', null);
  app.decorateRequest('account', null);
}, { name: 'unisd-api', fastify: '5.x' });
