/**
 * The legacy v1 lookups (plain addresses): GET /lookup answers a signed association, POST
 * /bulk_lookup the Matrix IDs found. Local binds come first (their stored, signed association),
 * then the identity providers. Both are open to anyone, so both are bounded: a bulk lookup holds
 * at most `maxAddresses` addresses, and each client network spends one unit of its lookup budget
 * per address asked.
 */
import type { FastifyRequest } from 'fastify';
import type { IdentityRoute } from '../../core/api.js';
import type { BindStore } from '../../core/store/port.js';
import type { ProviderRegistry } from '../../core/providers/registry.js';
import type { SigningKey } from '../../core/crypto/signing.js';
import { threepidKey } from '../../core/providers/registry.js';
import { normaliseAddress } from '../../core/threepid.js';
import { MatrixError } from '../../core/errors.js';
import { requesterKey, type RateLimiter } from '../../core/rate-limit.js';
import { signAssociation } from '../binds/association.js';
import type { LookupMetrics } from './metrics.js';

export interface LookupDeps {
  binds: BindStore;
  providers: ProviderRegistry;
  signingKey: SigningKey;
  serverName: string;
  /** Most addresses one bulk lookup may ask (hashing.maxAddresses). */
  maxAddresses: number;
  /** Addresses looked up per client (lookup.rateLimit); v1 counts a client network. */
  budget: RateLimiter;
  metrics: LookupMetrics;
}

const V1_PLAIN = { api: 'v1', algorithm: 'none' } as const;

const clientNetwork = (request: FastifyRequest): string => requesterKey(request.ip);

export function v1LookupRoutes({ binds, providers, signingKey, serverName, maxAddresses, budget, metrics }: LookupDeps): IdentityRoute[] {
  return [
    {
      method: 'GET', url: '/lookup', apis: ['v1'],
      schema: { querystring: { type: 'object', required: ['medium', 'address'], properties: { medium: { type: 'string' }, address: { type: 'string' } } } },
      handler: async (request) => {
        const { medium, address } = request.query as { medium: string; address: string };
        await budget.consume(clientNetwork(request));
        const threepid = { medium, address: normaliseAddress(medium, address) };
        const bound = await binds.get(threepid.medium, threepid.address);
        const found = bound ? null : await providers.lookup(threepid);
        metrics.looked(V1_PLAIN, 1, bound || found ? 1 : 0);
        if (bound) return bound.signed;
        return found ? signAssociation(threepid, found.mxid, Date.now(), serverName, signingKey) : {};
      },
    },
    {
      method: 'POST', url: '/bulk_lookup', apis: ['v1'],
      schema: {
        body: {
          type: 'object', required: ['threepids'],
          properties: { threepids: { type: 'array', items: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'string' } } } },
        },
      },
      handler: async (request) => {
        const { threepids: pairs } = request.body as { threepids: Array<[string, string]> };
        if (pairs.length > maxAddresses) throw new MatrixError(400, 'M_TOO_LARGE', `A bulk lookup may ask at most ${maxAddresses} addresses`);
        await budget.consume(clientNetwork(request), pairs.length);
        // Answered with the addresses as the client wrote them, so it can match them up.
        const asked = pairs.map(([medium, address]) => ({ medium, address, normalised: { medium, address: normaliseAddress(medium, address) } }));
        const found = new Map((await providers.bulkLookup(asked.map((t) => t.normalised))).map((m) => [threepidKey(m), m.mxid]));
        const threepids = asked.flatMap(({ medium, address, normalised }) => {
          const mxid = found.get(threepidKey(normalised));
          return mxid ? [[medium, address, mxid]] : [];
        });
        metrics.looked(V1_PLAIN, pairs.length, threepids.length);
        return { threepids };
      },
    },
  ];
}
