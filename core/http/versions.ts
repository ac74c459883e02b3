/**
 * GET /_matrix/identity/versions lists the specification versions whose required endpoints this
 * server serves, read from the routes actually mounted (an onRoute hook sees every route of every
 * plugin): a feature that mounts its routes makes the versions needing them appear, and a switched
 * off API (`matrix.v2: false`) makes them disappear.
 */
import type { FastifyInstance } from 'fastify';

const V2 = '/_matrix/identity/v2';

/**
 * The endpoints each version added, in order; a version requires its own and every earlier one's
 * (no endpoint has been removed since r0.3.0). Paths are as the specification writes them.
 */
const ADDED_ENDPOINTS: Array<[version: string, endpoints: string[]]> = [
  ['r0.3.0', [
    `GET ${V2}`,
    `POST ${V2}/account/register`, `GET ${V2}/account`, `POST ${V2}/account/logout`,
    `GET ${V2}/terms`, `POST ${V2}/terms`,
    `GET ${V2}/hash_details`, `POST ${V2}/lookup`,
    `GET ${V2}/pubkey/{keyId}`, `GET ${V2}/pubkey/isvalid`, `GET ${V2}/pubkey/ephemeral/isvalid`,
    `POST ${V2}/validate/email/requestToken`, `POST ${V2}/validate/email/submitToken`, `GET ${V2}/validate/email/submitToken`,
    `POST ${V2}/validate/msisdn/requestToken`, `POST ${V2}/validate/msisdn/submitToken`, `GET ${V2}/validate/msisdn/submitToken`,
    `GET ${V2}/3pid/getValidated3pid`, `POST ${V2}/3pid/bind`, `POST ${V2}/3pid/unbind`,
    `POST ${V2}/store-invite`, `POST ${V2}/sign-ed25519`,
  ]],
  ['v1.1', ['GET /_matrix/identity/versions']],
  ...['v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12', 'v1.13', 'v1.14', 'v1.15', 'v1.16', 'v1.17', 'v1.18']
    .map((version): [string, string[]] => [version, []]),
];

/** `METHOD path` with path parameters made alike: Fastify's `/:keyId` and the spec's `/{keyId}` are both `/{}`. */
const endpoint = (method: string, url: string): string => `${method} ${url.replace(/\/(?::\w+|\{\w+\})/g, '/{}')}`;

/** Every version with all the endpoints it requires, oldest first. */
export const SPEC_VERSIONS: Array<{ version: string; requires: string[] }> = ADDED_ENDPOINTS.map(([version], i) => ({
  version,
  requires: ADDED_ENDPOINTS.slice(0, i + 1).flatMap(([, endpoints]) => endpoints),
}));

/** The versions all of whose required endpoints `serves(method, url)` says are mounted. */
export function servedVersions(serves: (method: string, url: string) => boolean): string[] {
  return SPEC_VERSIONS
    .filter(({ requires }) => requires.every((required) => serves(...(required.split(' ') as [string, string]))))
    .map(({ version }) => version);
}

/** Records every route mounted from now on and serves /versions from them once the app is ready; call before any plugin. */
export function installVersions(app: FastifyInstance): void {
  const mounted = new Set<string>();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) mounted.add(endpoint(method, route.url));
  });
  let versions: string[] = [];
  app.addHook('onReady', async () => { versions = servedVersions((method, url) => mounted.has(endpoint(method, url))); });
  app.get('/_matrix/identity/versions', async () => ({ versions }));
}
