/**
 * Lookups: which Matrix ID owns a 3PID. Today the legacy v1 lookups (plain addresses); hash
 * lookup (/v2/hash_details, /v2/lookup) joins them here.
 */
import type { FastifyInstance } from 'fastify';
import { v1LookupRoutes } from './v1-routes.js';

export default async function lookupPlugin(app: FastifyInstance): Promise<void> {
  const { store, providers, signingKey } = app;
  app.identityApi.add(...v1LookupRoutes({ store, providers, signingKey, serverName: app.config.server.name }));
}
