/**
 * Runs the server: build, listen, and on SIGTERM/SIGINT stop accepting connections, let
 * in-flight requests finish (bounded by server.shutdownTimeout), close the store, exit 0.
 * A second signal exits at once.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.js';
import { buildApp } from './app.js';
import type { PluginManifest } from './plugin/manifest.js';

const firstLine = (text: string): string => text.split('\n')[0];

/** One line for an error that stops the start (missing plugin dependency, port in use, …). */
export function describeStartupError(err: unknown): string {
  const e = err as (NodeJS.ErrnoException & { code?: string }) | undefined;
  const message = firstLine(e?.message ?? String(err));
  const dependency = /The dependency '([^']+)' of plugin '([^']+)' is not registered/.exec(message);
  if (dependency) {
    return `plugin error: ${dependency[2]} needs plugin ${dependency[1]}, which is not loaded (is it enabled in the configuration?)`;
  }
  const decorator = /The decorator '([^']+)' required by '([^']+)' is not present/.exec(message);
  if (decorator) return `plugin error: ${decorator[2]} needs app.${decorator[1]}, which no loaded plugin provides`;
  if (e?.code === 'EADDRINUSE') return `cannot listen: address already in use (${message})`;
  if (e?.code === 'EACCES') return `cannot listen: permission denied (${message})`;
  return message;
}

export async function startServer(config: Config, plugins?: readonly PluginManifest[]): Promise<FastifyInstance> {
  const app = await buildApp(config, { plugins });
  await app.listen({ host: config.server.host, port: config.server.port });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => {
      app.log.error('shutdown timed out (server.shutdownTimeout); exiting');
      process.exit(1);
    }, config.server.shutdownTimeout);
    timer.unref();
    try {
      await app.close();
      app.log.info('stopped');
      process.exit(0);
    } catch (err) {
      app.log.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return app;
}
