/**
 * Invitations: store-invite, sign-ed25519, and the 3pid/onbind delivery queue that hands
 * pending invites to the bound user's homeserver (`app.invites`, `app.onbind`).
 */
import fp from 'fastify-plugin';
import { InviteService, type BoundInvite } from './service.js';
import { OnbindQueue } from './onbind.js';
import { inviteRoutes } from './routes.js';
import { V1_PREFIX } from '../v1/index.js';
import { V2_PREFIX } from '../v2/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    invites: InviteService;
    onbind: OnbindQueue;
  }
}

export default fp(async (app) => {
  const { config } = app;
  const apiBaseUrl = config.server.publicUrl.replace(/\/+$/, '') + (config.matrix.v2 ? V2_PREFIX : V1_PREFIX);
  const invites = new InviteService(app.store, app.providers, app.mailer, app.signingKey, {
    serverName: config.server.name, apiBaseUrl, lifetime: config.invites.lifetime,
  });
  const onbind = new OnbindQueue(app.store, app.federation, config.onbind, app.log.child({ plugin: 'onbind' }),
    (body) => invites.delivered((body.invites ?? []) as BoundInvite[]));
  app.decorate('invites', invites);
  app.decorate('onbind', onbind);
  app.identityApi.add(...inviteRoutes(invites));

  let purge: NodeJS.Timeout | null = null;
  app.addHook('onReady', async () => {
    onbind.start();
    purge = setInterval(() => {
      invites.purgeExpired().catch((err) => app.log.error({ err }, 'purging expired invites failed'));
    }, config.validation.purgeInterval);
    purge.unref();
  });
  app.addHook('onClose', async () => {
    if (purge) clearInterval(purge);
    await onbind.stop();
  });
}, { name: 'unisd-invites', dependencies: ['unisd-context', 'unisd-api', 'unisd-federation', 'unisd-email'] });
