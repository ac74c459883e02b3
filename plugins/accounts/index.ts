/** Accounts: identity access tokens (the v2 auth gate uses `app.accounts`), /account/register, /account and /account/logout. */
import type { FastifyInstance } from 'fastify';
import { AccountService } from './service.js';
import { accountRoutes } from './routes.js';
import { runEvery } from '../../core/jobs.js';

declare module 'fastify' {
  interface FastifyInstance {
    accounts: AccountService;
  }
}

export default async function accountsPlugin(app: FastifyInstance): Promise<void> {
  const accounts = new AccountService(app.store.accounts, app.federation, app.config.accounts, app.log.child({ plugin: 'accounts' }));
  app.decorate('accounts', accounts);
  app.identityApi.add(...accountRoutes(accounts));
  runEvery(app, 'purging expired access tokens', app.config.validation.purgeInterval, () => accounts.purgeExpired(), { lease: 'purge:account-tokens' });
}
