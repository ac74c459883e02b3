/**
 * Runs the server: build, listen, and on SIGTERM/SIGINT stop accepting, let in-flight
 * requests finish (bounded by server.shutdownTimeout), close the store, exit.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.js';
import { buildApp } from './app.js';

/** One line for errors a operator can fix (config, missing plugin dependency, port in use). */
export function describeStartupError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (e?.code === 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE' || /dependency .* is not registered/i.test(e?.message ?? '')) {
    return `plugin error: ${e.message.split('\n')[0]}`;
  }
  if (e?.code === 'EADDRINUSE') return `cannot listen: address in use (${e.message.split('\n')[0]})`;
  if (e?.code === 'EACCES') return `cannot listen: permission denied (${e.message.split('\n')[0]})`;
  return (e?.message ?? String(err)).split('\n')[0];
}

export async function startServer(config: Config): Promise<FastifyInstance> {
  const app = await buildApp(config);
  await app.listen({ host: config.server.host, port: config.server.port });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => {
      app.log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdownTimeout);
    timer.unref();
    try {
      await app.close();
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return app;
}
