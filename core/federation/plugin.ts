/**
 * The federation plugin: decorates `app.federation` (requests to homeservers, see types.ts) and
 * `app.xmatrix` (verification of X-Matrix signed requests addressed to this server).
 */
import fp from 'fastify-plugin';
import type { Federation, XMatrix } from './types.js';
import { FederationClient } from './client.js';
import { ServerKeys } from './server-keys.js';
import { XMatrixVerifier } from './x-matrix.js';

declare module 'fastify' {
  interface FastifyInstance {
    federation: Federation;
    xmatrix: XMatrix;
  }
}

export default fp(async (app) => {
  const federation = new FederationClient({ ...app.config.federation, metrics: app.metrics, limitStore: app.limitStore });
  app.decorate('federation', federation);
  app.decorate('xmatrix', new XMatrixVerifier(new ServerKeys(federation, app.log.child({ component: 'federation' })), app.config.server.name));
  app.addHook('onClose', () => federation.close());
}, { name: 'unisd-federation', dependencies: ['unisd-context'] });
