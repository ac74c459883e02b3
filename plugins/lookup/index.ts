/**
 * Lookups: which Matrix ID owns a 3PID. Today the legacy v1 lookups (plain addresses); hash
 * lookup (/v2/hash_details, /v2/lookup) joins them here. The budget (lookup.rateLimit) counts the
 * addresses each client looks up: a route spends one unit per address, `budget.consume(key, count)`.
 */
import type { FastifyInstance } from 'fastify';
import { RateLimiter } from '../../core/rate-limit.js';
import { runEvery } from '../../core/jobs.js';
import { v1LookupRoutes } from './v1-routes.js';
import { LookupMetrics } from './metrics.js';

export default async function lookupPlugin(app: FastifyInstance): Promise<void> {
  const { store, providers, signingKey, config } = app;
  const budget = new RateLimiter(config.lookup.rateLimit.perClient, config.lookup.rateLimit.window, { name: 'lookup.rateLimit.perClient', metrics: app.metrics });
  app.identityApi.add(...v1LookupRoutes({ binds: store.binds, providers, signingKey, serverName: config.server.name, maxAddresses: config.hashing.maxAddresses, budget, metrics: new LookupMetrics(app.metrics) }));
  runEvery(app, 'forgetting refilled lookup budgets', config.validation.purgeInterval, async () => budget.sweep());
}
