/**
 * Lookups: which Matrix ID owns a 3PID. Today the legacy v1 lookups (plain addresses); hash
 * lookup (/v2/hash_details, /v2/lookup) joins them here.
 */
import fp from 'fastify-plugin';
import { v1LookupRoutes } from './v1-routes.js';

export default fp(async (app) => {
  const { store, providers, signingKey } = app;
  app.identityApi.add(...v1LookupRoutes({ store, providers, signingKey, serverName: app.config.server.name }));
}, { name: 'unisd-lookup', dependencies: ['unisd-context', 'unisd-api', 'unisd-binds'] });
