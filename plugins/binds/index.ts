/**
 * Binds: /3pid/bind and /3pid/unbind, and the local-bindings identity provider (priority 0).
 * Each committed bind and unbind is announced on `app.events`.
 */
import type { FastifyInstance } from 'fastify';
import { BindService } from './service.js';
import { bindRoutes } from './routes.js';
import { localBindingsProvider } from './provider.js';

export default async function bindsPlugin(app: FastifyInstance): Promise<void> {
  const { store, signingKey, providers, events } = app;
  const serverName = app.config.server.name;
  providers.register(localBindingsProvider(store.binds), { local: true });
  const binds = new BindService({
    binds: store.binds, validation: app.validation, invites: app.invites, onbind: app.onbind, mailer: app.mailer,
    signingKey, serverName, events, log: app.log.child({ plugin: 'binds' }),
  });
  app.identityApi.add(...bindRoutes(binds, app.xmatrix));
}
