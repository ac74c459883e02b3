/**
 * Runs the server: build, listen, and on SIGTERM/SIGINT stop accepting connections, close every
 * connection without a request in flight at once, let the requests in flight finish (bounded
 * by server.shutdownTimeout, then cut), close the store, exit (0; 1 when requests had to be
 * cut). A second signal exits at once.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.js';
import { buildApp } from './app.js';
import { ConnectionTracker } from './http/connections.js';
import { setLongTimeout } from './timers.js';
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

/** Where the data lives, for the startup log (never the MongoDB URI: it holds a password). */
function storageLocation(storage: Config['storage']): string {
  return storage.backend === 'sqlite' ? `sqlite ${storage.sqlite.path}` : `mongodb database ${storage.mongodb.database}`;
}

/** `configSource`: where the configuration came from ("file /etc/unisd.yaml" or "defaults"). */
export async function startServer(config: Config, plugins?: readonly PluginManifest[], configSource = 'defaults'): Promise<FastifyInstance> {
  const app = await buildApp(config, { plugins });
  const connections = new ConnectionTracker(app.server);
  await app.listen({ host: config.server.host, port: config.server.port });
  app.log.info({
    config: configSource, serverName: config.server.name, storage: storageLocation(config.storage), signingKey: config.keys.path,
  }, 'unisd started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    let cut = false;
    const deadline = setLongTimeout(() => {
      cut = true;
      app.log.error('shutdown timed out (server.shutdownTimeout): closing the requests still in flight');
      connections.closeAll();
    }, config.server.shutdownTimeout, { keepAlive: true });
    connections.drain();
    try {
      // Resolves once every connection is closed and the onClose hooks (the store's among them) ran.
      await app.close();
      deadline.clear();
      app.log.info('stopped');
      process.exit(cut ? 1 : 0);
    } catch (err) {
      app.log.error({ err }, 'error while shutting down');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return app;
}
