/**
 * Builds the Fastify app: HTTP conventions (JSON bodies, Matrix errors, 404/405, CORS),
 * the shared context (config, store, signing key, providers, workers, events), the identity API
 * table and the federation client, then the plugins the config enables (built-in ones from
 * core/plugins.ts, external ones from plugins.modules), in the order of their dependencies.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import cors from '@fastify/cors';
import { ConfigError, type Config } from './config/load.js';
import type { Store } from './store/port.js';
import { openStore } from './store/index.js';
import { loadOrCreateSigningKey } from './crypto/key-file.js';
import { MAX_TIMER_DELAY } from './timers.js';
import type { SigningKey } from './crypto/signing.js';
import { installBodyParsers } from './http/body.js';
import { installErrorHandler, toMatrixError } from './http/errors.js';
import { MatrixError } from './errors.js';
import { installNotFound } from './http/not-found.js';
import { installVersions } from './http/versions.js';
import { SERVER_OPTIONS, clientErrorHandler, installFrameworkAnswers } from './http/framework-answers.js';
import { loggerOptions } from './http/logging.js';
import { installRequestMetrics } from './http/metrics.js';
import context from './context.js';
import api from './api.js';
import federation from './federation/plugin.js';
import { BUILTIN_PLUGINS } from './plugins.js';
import type { PluginManifest } from './plugin/manifest.js';
import { registerPlugins } from './plugin/loader.js';

export interface BuildOptions {
  /** An already created store (tests); else one is created from config.storage. */
  store?: Store;
  /** A signing key (tests); else loaded from config.keys.path, created on first start. */
  signingKey?: SigningKey;
  /** Every plugin manifest (loadConfiguration's, with the external ones); default core/plugins.ts. */
  plugins?: readonly PluginManifest[];
  /** Extra plugins registered after the enabled ones (tests). */
  extra?: FastifyPluginAsync[];
  logger?: boolean;
}

/** A certificate or key file; failing, one line naming the key (never taken for a listen error). */
function readTlsFile(key: string, path: string): Buffer {
  if (path === '') throw new ConfigError(`config error: ${key}: expected a PEM file, needed with server.tls.cert`);
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : code ?? 'unreadable';
    throw new ConfigError(`config error: ${key}: cannot read ${path}: ${reason}`);
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Node checks the header and request deadlines this often (its default, 30 s, would let a 10 s limit run to 40 s).
  const http = { ...SERVER_OPTIONS, connectionsCheckingInterval: 1000 };
  const tls = config.server.tls.cert
    ? { https: { ...http, cert: readTlsFile('server.tls.cert', config.server.tls.cert), key: readTlsFile('server.tls.key', config.server.tls.key) } }
    : { http };
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(config.logging.level),
    bodyLimit: config.server.bodyLimit,
    requestTimeout: config.server.requestTimeout,
    // Node arms a socket timer with it, and timers overflow past 2^31-1 ms (then fire at once).
    keepAliveTimeout: Math.min(config.server.keepAliveTimeout, MAX_TIMER_DELAY),
    trustProxy: config.server.trustProxy,
    // Answered with Matrix bodies by core/http/framework-answers.ts.
    return503OnClosing: false,
    clientErrorHandler,
    // No implicit HEAD: a link checker's HEAD on a mailed validation link must not validate it.
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    // A path with broken percent-encoding is refused by the router, before any hook and outside
    // setErrorHandler: answer it with the Matrix body, and the CORS header the hooks would add.
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      const matrix = toMatrixError(err) ?? new MatrixError(400, 'M_UNRECOGNIZED', 'Malformed request');
      return reply.code(matrix.statusCode).header('access-control-allow-origin', '*').type('application/json').send(matrix.toJSON());
    },
    ...tls,
  }) as unknown as FastifyInstance;

  app.server.headersTimeout = config.server.headersTimeout;
  if (config.server.maxConnections > 0) app.server.maxConnections = config.server.maxConnections;
  installBodyParsers(app);
  installErrorHandler(app);
  installNotFound(app);
  installFrameworkAnswers(app);
  installVersions(app);
  await app.register(cors, {
    origin: '*',
    methods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Origin', 'X-Requested-With', 'Content-Type', 'Accept', 'Authorization'],
    strictPreflight: false,
  });

  const store = options.store ?? await openConfiguredStore(config.storage);
  const signingKey = options.signingKey
    ?? loadOrCreateSigningKey(config.keys.path, () => app.log.warn({ path: config.keys.path }, 'created a new signing key: back it up, signatures made with it are checked by clients and homeservers'));
  await app.register(context, { config, store, signingKey });
  installRequestMetrics(app, app.metrics);
  await app.register(api);

  await app.register(federation);
  const loaded = await registerPlugins(app, options.plugins ?? BUILTIN_PLUGINS, config);
  for (const plugin of options.extra ?? []) await app.register(plugin);
  app.log.info({ plugins: loaded }, 'plugins loaded');
  return app;
}

/** Opens the configured store; its errors name the backend (never the MongoDB URI: it holds a password). */
async function openConfiguredStore(storage: Config['storage']): Promise<Store> {
  const where = storage.backend === 'sqlite' ? `sqlite ${storage.sqlite.path}` : `mongodb database ${storage.mongodb.database}`;
  try {
    return await openStore(storage);
  } catch (err) {
    throw new Error(`storage error (${where}): ${(err as Error).message.split('\n')[0]}`);
  }
}
