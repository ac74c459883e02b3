/**
 * Prometheus metrics: binds `app.metrics` (what the core and the features record) to a prom-client
 * registry with Node's process and event-loop metrics, and serves `GET /metrics` on a listener of
 * its own (metrics.host, metrics.port), opened when the app is ready and closed with it. The public
 * port never serves them (its /metrics answers 404 like any unknown path).
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { PrometheusBackend } from './prometheus.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The metrics listener (its address once the app is ready). */
    metricsServer: Server;
  }
}

export const METRICS_PATH = '/metrics';

export default async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const { host, port } = app.config.metrics;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const log = app.log.child({ plugin: 'metrics' });
  app.metrics.use(new PrometheusBackend(registry, (metric, err) => log.warn({ metric, err: (err as Error)?.message }, 'a metric could not be read')));

  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== METRICS_PATH) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => {
        log.error({ err: err.message }, 'collecting metrics failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('Collecting metrics failed\n');
      },
    );
  });
  app.decorate('metricsServer', server);

  app.addHook('onReady', async () => {
    server.listen(port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => { throw err; })]);
    const address = server.address();
    log.info({ address }, 'serving metrics');
  });
  app.addHook('onClose', async () => {
    if (!server.listening) return;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });
}
