/**
 * The identity API is declared once and mounted twice. Feature plugins add their routes to
 * `fastify.identityApi` with paths relative to the API root (`/3pid/bind`); the `v2` plugin
 * mounts them under /_matrix/identity/v2 behind the bearer-token and terms gates, the `v1`
 * plugin under /_matrix/identity/api/v1 without them. A handler sees `request.api` and
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

export class IdentityApi {
  readonly routes: IdentityRoute[] = [];
  add(...routes: IdentityRoute[]): void {
    this.routes.push(...routes);
  }
  for(api: ApiVersion): IdentityRoute[] {
    return this.routes.filter((route) => (route.apis ?? ['v1', 'v2']).includes(api));
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
  app.decorate('identityApi', new IdentityApi());
  app.decorateRequest('api', null);
  app.decorateRequest('account', null);
}, { name: 'unisd-api', fastify: '5.x' });
