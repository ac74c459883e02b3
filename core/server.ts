/**
 * Runs the server: build, listen, and on SIGTERM/SIGINT stop accepting connections, close every
 * connection without a request in flight at once, let the requests in flight finish (bounded
 * by server.shutdownTimeout, then cut), close the store, exit (0; 1 when requests had to be
 * cut). A second signal exits at once.
 */
import cluster from 'node:cluster';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Config } from './config/load.js';
import { buildApp } from './app.js';
import { ConnectionTracker } from './http/connections.js';
import { setLongTimeout } from './timers.js';
import { storageLocation } from './store/index.js';
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

/**
 * Serves with `server.workers` processes (node:cluster) when more than one, else in this one.
 * `configSource`: where the configuration came from ("file /etc/unisd.yaml" or "defaults").
 */
export async function startServer(config: Config, plugins?: readonly PluginManifest[], configSource = 'defaults'): Promise<FastifyInstance | null> {
  if (config.server.workers > 1 && cluster.isPrimary) {
    await runPrimary(config);
    return null;
  }
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

/**
 * The cluster's primary: forks the workers (each builds the whole app and listens on the shared
 * port), replaces one that dies, runs what must happen once for all of them (pepper rotation),
 * and on SIGTERM/SIGINT passes the signal on and exits when they have.
 */
async function runPrimary(config: Config): Promise<void> {
  const log = pino({ level: config.logging.level }).child({ component: 'cluster' });
  // One unisd per SQLite database: the primary takes the lock for its workers, which share it.
  if (config.storage.backend === 'sqlite' && config.storage.sqlite.path !== ':memory:') {
    const { lockDatabase } = await import('./store/sqlite/lock.js');
    mkdirSync(dirname(config.storage.sqlite.path), { recursive: true });
    lockDatabase(config.storage.sqlite.path);
  }
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
