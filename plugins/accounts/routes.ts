import type { IdentityRoute } from '../../core/api.js';
import type { AccountService } from './service.js';

export function accountRoutes(accounts: AccountService): IdentityRoute[] {
  return [
    {
      method: 'GET', url: '/account', apis: ['v2'],
      handler: async (request) => ({ user_id: request.account!.userId }),
    },
    {
      // Clients send no body and no Content-Type here.
      method: 'POST', url: '/account/logout', apis: ['v2'],
      handler: async (request) => {
        await accounts.logout(request.account!);
        return {};
      },
    },
  ];
}
