/**
 * Runs the server: build, listen, and on SIGTERM/SIGINT stop accepting connections, let
 * in-flight requests finish (bounded by server.shutdownTimeout), close the store, exit 0.
 * A second signal exits at once.
 */
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
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

/** Serves with `server.workers` processes (node:cluster) when more than one, else in this one. */
export async function startServer(config: Config, plugins?: readonly PluginManifest[]): Promise<FastifyInstance | null> {
  if (config.server.workers > 1 && cluster.isPrimary) {
    await runPrimary(config);
    return null;
  }
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

/**
 * The cluster's primary: forks the workers (each builds the whole app and listens on the shared
 * port), replaces one that dies, runs what must happen once for all of them (pepper rotation),
 * and on SIGTERM/SIGINT passes the signal on and exits when they have.
 */
async function runPrimary(config: Config): Promise<void> {
  const log = pino({ level: config.logging.level }).child({ component: 'cluster' });
  let stopping = false;
  if (config.hashing.enabled) (await import('../plugins/lookup/cluster-coordinator.js')).coordinateRotations(config.hashing, log);
  const listened = new Set<number>();
  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!listened.has(worker.id)) {
      // It failed to start (it said why on stderr): another would too.
      stop('SIGTERM');
      process.exitCode = 1;
      return;
    }
    log.error({ worker: worker.id, code, signal }, 'worker exited; starting another');
    cluster.fork();
  });
  for (let i = 0; i < config.server.workers; i++) cluster.fork();
  log.info({ workers: config.server.workers }, 'cluster started');
  function stop(signal: NodeJS.Signals): void {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down the workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  }
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
