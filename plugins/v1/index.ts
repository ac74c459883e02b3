/**
 * `matrix.v1`: the legacy /_matrix/identity/api/v1 API, deprecated. The same routes as v2
 * without authentication or terms.
 */
import type { FastifyInstance } from 'fastify';
import { API_PREFIX, asHandler } from '../../core/api.js';

export default async function v1Api(app: FastifyInstance): Promise<void> {
  app.log.warn('matrix.v1 is on: the deprecated v1 API is served; set matrix.v1: false once your clients speak v2');
  await app.register(async (v1) => {
    v1.addHook('onRequest', async (request) => { request.api = 'v1'; });
    v1.get('', async () => ({}));
    app.identityApi.mount('v1', (route) => {
      v1.route({ method: route.method, url: route.url, schema: route.schema, handler: asHandler(route) });
    });
  }, { prefix: API_PREFIX.v1 });
}
