/**
 * What every plugin shares, as decorators: the config, the store, the signing key, the provider
 * registry, the worker pool, the event bus, the metrics (no-ops unless the metrics plugin is on)
 * and the readiness checks. Registered by the app before any feature plugin.
 */
import fp from 'fastify-plugin';
import type { Config } from './config/load.js';
import type { Store } from './store/port.js';
import type { SigningKey } from './crypto/signing.js';
import { ProviderRegistry } from './providers/registry.js';
import { WorkerPool } from './workers.js';
import { EventBus } from './events.js';
import { Metrics } from './metrics.js';
import { Readiness } from './readiness.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    signingKey: SigningKey;
    providers: ProviderRegistry;
    workers: WorkerPool;
    events: EventBus;
    metrics: Metrics;
    readiness: Readiness;
  }
}

export interface ContextOptions {
  config: Config;
  store: Store;
  signingKey: SigningKey;
}

export default fp<ContextOptions>(async (app, { config, store, signingKey }) => {
  app.decorate('config', config);
  app.decorate('store', store);
  app.decorate('signingKey', signingKey);
  const metrics = new Metrics();
  app.decorate('metrics', metrics);
  app.decorate('readiness', new Readiness((check, err) => app.log.error({ check, err: (err as Error)?.message }, 'readiness check failed')));
  const providers = new ProviderRegistry({ timeout: config.providers.timeout, log: app.log.child({ component: 'providers' }), metrics });
  app.decorate('providers', providers);
  app.decorate('events', new EventBus((event, err) => app.log.error({ event, err: (err as Error)?.message }, 'event listener failed')));
  const workers = new WorkerPool();
  app.decorate('workers', workers);
  app.addHook('onClose', async () => {
    await providers.close();
    await workers.close();
    await store.close();
  });
}, { name: 'unisd-context', fastify: '5.x' });
