/**
 * Every answered request counted and timed by route template (`/_matrix/identity/v2/pubkey/:keyId`,
 * never the path a client wrote: no 3PID, token or key reaches a label) and status; requests no
 * route matched share the route label `unmatched`. Recorded through `app.metrics`, so a no-op
 * unless the metrics plugin is on.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export const UNMATCHED_ROUTE = 'unmatched';

export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  const requests = metrics.counter({ name: 'unisd_http_requests_total', help: 'HTTP requests answered, by method, route template and status.', labelNames: ['method', 'route', 'status'] });
  const duration = metrics.histogram({
    name: 'unisd_http_request_duration_seconds', help: 'Time from request to answer, by method and route template.', labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
