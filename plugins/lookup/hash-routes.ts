/**
 * Hash lookup (v2 only): GET /hash_details gives the pepper and algorithms, POST /lookup answers
 * hashed (or, with `none`, plain) addresses. Both behind the token and terms gates (Synapse sends
 * the token of hash_details in the query). The lookup body is checked by hand, in the spec's
 * error order and without per-item schema rules (ajv's per-item checks would cost more than the
 * lookup itself on a 1000-address body); the answer is sent as pre-built JSON text.
 */
import type { IdentityRoute } from '../../core/api.js';
import type { HashLookup } from './hash-lookup.js';

export function hashLookupRoutes(service: HashLookup): IdentityRoute[] {
  return [
    {
      method: 'GET', url: '/hash_details', apis: ['v2'],
      handler: async () => service.details(),
    },
    {
      method: 'POST', url: '/lookup', apis: ['v2'],
      handler: async (request, reply) => reply.type('application/json').send(await service.lookup(request.body, request.account!)),
    },
  ];
}
