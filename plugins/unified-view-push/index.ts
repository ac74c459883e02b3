/**
 * MSC4004 member: keeps each configured hub's picture of this server's 3PIDs current. Pushing
 * starts once the server listens (`unisd unified-view push` builds the app without listening
 * and pushes once), and follows binds, unbinds and providers' reloads.
 */
import type { FastifyInstance } from 'fastify';
import { UnifiedViewPush } from './service.js';
import { PushMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    unifiedViewPush: UnifiedViewPush;
  }
}

export default async function unifiedViewPushPlugin(app: FastifyInstance): Promise<void> {
  const { config, providers, workers, events, signingKey } = app;
  if (config.unifiedViewPush.hubs.length === 0) throw new Error('unifiedViewPush.hubs: expected at least one hub when unifiedViewPush.enabled is true');
  const service = new UnifiedViewPush({
    config: config.unifiedViewPush,
    origin: config.server.name,
    signingKey,
    pool: workers,
    sources: () => providers.hashSources(),
    log: app.log.child({ component: 'unified-view-push' }),
    metrics: new PushMetrics(app.metrics),
  });
  app.decorate('unifiedViewPush', service);
  const changed = () => service.dataChanged();
  events.on('bind', changed);
  events.on('unbind', changed);
  events.on('provider-data-changed', changed);
  app.addHook('onListen', async () => service.start());
  app.addHook('onClose', () => service.close());
}
