/**
 * Several unisd instances on one store: this process's name among them, its leases
 * (single-holder work, ./leases.ts) and the change follower (./changes.ts), as `app.instance`;
 * and where rate limits are counted (`app.limitStore`: ./limit-stores/).
 * Registered by the app after the context, before any feature plugin: the follower's cursor
 * is placed before the plugins read the store at start, so nothing in between is missed.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import fp from 'fastify-plugin';
import { ChangeFollower } from './changes.js';
import { Leases } from './leases.js';
import { runEvery } from './jobs.js';
import type { LimitStore } from './limit-stores/store.js';
import { LocalLimitStore } from './limit-stores/local.js';
import { RedisLimitStore } from './limit-stores/redis.js';

declare module 'fastify' {
  interface FastifyInstance {
    instance: { id: string; leases: Leases; follower: ChangeFollower };
    /** Where rate limits and lookup budgets are counted (`rateLimit.store`). */
    limitStore: LimitStore;
  }
}

export default fp(async (app) => {
  const { config, store, events } = app;
  // Unique per process: the workers of server.workers are instances too (each has its own in_memory index).
  const id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const log = app.log.child({ component: 'instances' });
  const leases = new Leases(store.leases, id, config.instances.leaseTime, log);
  const follower = new ChangeFollower({ changes: store.changes, events, origin: id, pollInterval: config.instances.pollInterval, log });
  await follower.begin();
  app.decorate('instance', { id, leases, follower });
  runEvery(app, 'purging the change log', config.instances.changeRetention / 4, () => store.changes.deleteBefore(Date.now() - config.instances.changeRetention), { lease: 'purge:change-log' });
  app.addHook('onReady', () => follower.start());
  app.addHook('onClose', () => follower.stop());

  const fallbacks = app.metrics.counter({ name: 'unisd_rate_limit_store_fallbacks_total', help: 'Rate-limit checks counted in this process because the shared store (Redis) failed or was slow.' });
  const limitStore: LimitStore = config.rateLimit.store === 'redis'
    ? new RedisLimitStore({ ...config.rateLimit.redis, log, onFallback: () => fallbacks.inc() })
    : new LocalLimitStore();
  app.decorate('limitStore', limitStore);
  if (limitStore instanceof RedisLimitStore) await limitStore.ready();
  app.addHook('onClose', () => limitStore.close());
}, { name: 'unisd-instances', fastify: '5.x', dependencies: ['unisd-context'] });
