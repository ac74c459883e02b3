import type { IdentityRoute } from '../../core/api.js';
import type { AccountService } from './service.js';
import { requesterKey } from '../../core/rate-limit.js';

interface OpenIdToken {
  access_token: string;
  matrix_server_name: string;
}

export function accountRoutes(accounts: AccountService): IdentityRoute[] {
  return [
    {
      // The body is the homeserver's OpenID token object; clients may omit token_type and expires_in.
      method: 'POST', url: '/account/register', apis: ['v2'], auth: 'none',
      schema: {
        body: {
          type: 'object',
          required: ['access_token', 'matrix_server_name'],
          properties: { access_token: { type: 'string', minLength: 1 }, matrix_server_name: { type: 'string' } },
        },
      },
      handler: async (request) => {
        const body = request.body as OpenIdToken;
        const token = await accounts.register(body.access_token, body.matrix_server_name, requesterKey(request.ip));
        // Current Element reads `token`, older clients `access_token`.
        return { token, access_token: token };
      },
    },
    {
      method: 'GET', url: '/account', apis: ['v2'],
      handler: async (request) => ({ user_id: request.account!.userId }),
    },
    {
      // Clients send no body and no Content-Type here. An unknown token is M_UNKNOWN_TOKEN, as v2_auth.yaml lists.
      method: 'POST', url: '/account/logout', apis: ['v2'], unknownToken: 'M_UNKNOWN_TOKEN',
      handler: async (request) => {
        await accounts.logout(request.account!);
        return {};
      },
    },
  ];
}
