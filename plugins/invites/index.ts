/**
 * Invitations: store-invite, sign-ed25519, and the 3pid/onbind delivery queue that hands
 * pending invites to the bound user's homeserver (`app.invites`, `app.onbind`).
 */
import type { FastifyInstance } from 'fastify';
import { InviteService, type BoundInvite } from './service.js';
import { OnbindQueue } from './onbind.js';
import { inviteRoutes } from './routes.js';
import { publicApiUrl } from '../../core/api.js';
import { runEvery } from '../../core/jobs.js';

declare module 'fastify' {
  interface FastifyInstance {
    invites: InviteService;
    onbind: OnbindQueue;
  }
}

export default async function invitesPlugin(app: FastifyInstance): Promise<void> {
  const { config } = app;
  const invites = new InviteService(app.store.invites, app.providers, app.mailer, app.signingKey, {
    serverName: config.server.name, apiBaseUrl: publicApiUrl(config), lifetime: config.invites.lifetime, rateLimit: config.invites.rateLimit, metrics: app.metrics, limitStore: app.limitStore,
  });
  // An attempt takes at most the federation client's deadline; the lease leaves room for the store writes after it.
  const lease = app.federation.deadline + 5000;
  const onbind = new OnbindQueue(app.store.onbind, app.federation, { ...config.onbind, lease }, app.log.child({ plugin: 'onbind' }),
    (body) => invites.delivered((body.invites ?? []) as BoundInvite[]), app.metrics);
  app.decorate('invites', invites);
  app.decorate('onbind', onbind);
  app.identityApi.add(...inviteRoutes(invites));

  runEvery(app, 'purging expired invites', config.validation.purgeInterval, () => invites.purgeExpired(), { lease: 'purge:invites' });
  runEvery(app, 'forgetting refilled invite limits', config.validation.purgeInterval, () => invites.sweepLimits());
  app.addHook('onReady', async () => onbind.start());
  app.addHook('onClose', async () => onbind.stop());
}
