/**
 * Lookups: which Matrix ID owns a 3PID. The legacy v1 lookups (plain addresses) and, with
 * `hashing.enabled`, hash lookup (/v2/hash_details, /v2/lookup) on tables kept per pepper
 * (in_memory: the compact index; sql: the storage backend), rebuilt in the worker pool on
 * rotation and kept current on bind and unbind. Budgets count addresses looked up: v1 per client
 * network (lookup.rateLimit), v2 per token and per user (lookup.budget).
 */
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { RateLimiter } from '../../core/rate-limit.js';
import { runEvery } from '../../core/jobs.js';
import { selectHashTables } from '../../core/store/index.js';
import { v1LookupRoutes } from './v1-routes.js';
import { HashTableMetrics, LookupMetrics } from './metrics.js';
import { hashLookupRoutes } from './hash-routes.js';
import { HashLookup } from './hash-lookup.js';
import { MemoryHashTables } from './memory-tables.js';
import { PepperRotation } from './rotation.js';
import { buildIndex } from './table-builder.js';
import { followPrimary } from './cluster-coordinator.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Present when hashing.enabled. */
    hashLookup?: { service: HashLookup; rotation: PepperRotation; memory: MemoryHashTables | null };
  }
}

export default async function lookupPlugin(app: FastifyInstance): Promise<void> {
  const { store, providers, signingKey, config, workers, events } = app;
  const budget = new RateLimiter(config.lookup.rateLimit.perClient, config.lookup.rateLimit.window, { name: 'lookup.rateLimit.perClient', metrics: app.metrics, store: app.limitStore });
  app.identityApi.add(...v1LookupRoutes({ binds: store.binds, providers, signingKey, serverName: config.server.name, maxAddresses: config.hashing.maxAddresses, budget, metrics: new LookupMetrics(app.metrics) }));
  runEvery(app, 'forgetting refilled lookup budgets', config.validation.purgeInterval, () => budget.sweep());
  if (!config.hashing.enabled) return;

  const log = app.log.child({ component: 'hash-lookup' });
  const memory = config.hashing.hashStorageType === 'in_memory' ? new MemoryHashTables() : null;
  const tables = selectHashTables(config.hashing.hashStorageType, store, () => memory!);
  // In a cluster worker, rotations are the primary's (all workers build, then all switch).
  const follower = cluster.isWorker && config.server.workers > 1 ? followPrimary(() => rotation) : null;
  const rotation: PepperRotation = new PepperRotation({
    hashing: config.hashing,
    peppers: store.peppers,
    tables,
    memory,
    build: (pepper, expected, firstBuild) => tableMetrics.build(expected, (onProgress) => buildIndex(pepper, {
      pool: workers, sources: providers.hashSources(), log, expected, onSourceError: firstBuild ? 'skip' : 'throw', onProgress,
    })),
    providerMapping: async (mapping) => {
      const sources = new Set(providers.hashSources().map((p) => p.name));
      const [found] = await providers.bulkLookup([{ medium: mapping.medium, address: mapping.address }]);
      return found && sources.has(found.provider) ? found : null;
    },
    rotated: (ms) => tableMetrics.rotated(ms),
    events,
    log,
    coordinator: follower ?? undefined,
    leases: app.instance.leases,
    changeLog: { position: () => store.changes.latest(), ownChangesAfter: (seq) => app.instance.follower.ownChangesAfter(seq) },
  });
  const service = new HashLookup({ hashing: config.hashing, budget: config.lookup.budget, rotation, tables, memory, providers, log, metrics: app.metrics, limitStore: app.limitStore });
  app.decorate('hashLookup', { service, rotation, memory });
  const tableMetrics = new HashTableMetrics(app.metrics, { rotation, tables, memory, events });
  app.identityApi.add(...hashLookupRoutes(service));
  runEvery(app, 'forgetting refilled hash lookup budgets', config.validation.purgeInterval, () => service.sweep());

  events.on('bind', ({ remote, ...mapping }) => rotation.bound(mapping, remote));
  events.on('unbind', ({ remote, ...mapping }) => rotation.unbound(mapping, remote));
  // Another instance rotated: switch to its pepper now rather than on the next lookup that names
  // it, and write to its shared table what this instance changed that the builder may lack.
  events.on('pepper-rotated', ({ remote, pepper, since }) => (remote ? rotation.adoptedRemote(pepper, since) : undefined));
  // A source's data changed wholesale: a rotation rebuilds every table from the sources (the
  // instance where it changed rotates; the others adopt its pepper).
  events.on('provider-data-changed', ({ remote }) => (remote ? undefined : rotation.rotate()));
  // Providers registered by any plugin (external ones included) are known once the app is
  // ready; the first build is not awaited there (see rotation.ready): lookups wait for it.
  app.addHook('onReady', async () => {
    rotation.start().then(() => follower?.ready(), (err) => log.error({ err: (err as Error).message }, 'building the first hash table failed'));
  });
  app.addHook('onClose', () => rotation.close());
}
