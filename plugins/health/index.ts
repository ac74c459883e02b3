/**
 * Health for load balancers and orchestrators, on the public port, outside the identity API (no
 * token, no terms): `GET /_unisd/health` answers 200 while the process serves requests (liveness);
 * `GET /_unisd/ready` runs `app.readiness`'s checks (the store answers, and whatever plugins add:
 * the hash index loaded) and answers 200, or 503 naming the failing checks and why. Neither says
 * more: no version, no configuration, no error messages.
 */
import type { FastifyInstance } from 'fastify';

export const HEALTH_PATH = '/_unisd/health';
export const READY_PATH = '/_unisd/ready';

const statusSchema = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } as const;
const notReadySchema = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    failing: { type: 'array', items: { type: 'object', properties: { check: { type: 'string' }, reason: { type: 'string' } }, required: ['check', 'reason'] } },
  },
  required: ['status', 'failing'],
} as const;

export default async function healthPlugin(app: FastifyInstance): Promise<void> {
  const { store, readiness } = app;
  readiness.add('store', async () => {
    try {
      await store.ping();
      return null;
    } catch {
      return 'store unreachable';
    }
  });

  app.get(HEALTH_PATH, { schema: { response: { 200: statusSchema } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'alive' };
  });
  app.get(READY_PATH, { schema: { response: { 200: statusSchema, 503: notReadySchema } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const report = await readiness.evaluate();
    if (report.ready) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', failing: report.failing });
  });
}
