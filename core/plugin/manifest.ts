/**
 * What a plugin folder exports (its `manifest.ts`, default export): the core loads the plugins
 * the configuration enables from these, built-in ones from core/plugins.ts and external ones
 * from `plugins.modules`. The core composes the configuration schema from every manifest's
 * `config` sections, so a plugin's keys are validated, documented and overridable by
 * environment variables like the core's own.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ConfigKey } from '../config/formats.js';
import type { Config } from '../config/types.js';

/** A schema fragment: nested sections whose leaves are ConfigKey (doc, format, default, …). */
export interface ConfigSection { [name: string]: ConfigSection | ConfigKey }

/**
 * The Fastify plugin of a manifest: a plain async function. The core wraps it with
 * fastify-plugin, named `unisd-<name>` and depending on its manifest's dependencies, so its
 * decorators and routes are the app's.
 */
export type UnisdPlugin = (app: FastifyInstance) => Promise<void>;

export interface PluginManifest {
  /** Short name, unique: `ldap`. Its Fastify plugin is registered as `unisd-<name>`. */
  name: string;
  /** One-line description, for logs and docs. */
  description: string;
  /** Top-level config sections this plugin owns: `{ ldap: { enabled: {…}, … } }`. */
  config?: Record<string, ConfigSection>;
  /**
   * Its sections as config/unisd.example.yaml shows them: YAML, every key with an example value
   * and a comment (`unisd config example` joins the core's and every plugin's).
   */
  example?: string;
  /** Whether the loaded configuration turns this plugin on (ma1sd's switches: `c.ldap.enabled`). */
  enabled: (config: Config) => boolean;
  /** Names of plugins registered before this one, whose decorators it uses (`['binds']`). */
  dependencies?: string[];
  /** The Fastify plugin, imported only when enabled. */
  plugin: () => Promise<{ default: UnisdPlugin }>;
  /**
   * With `server.workers` > 1: what the cluster's primary process runs once for all its workers
   * (which each register the plugin), imported only when enabled.
   */
  primary?: () => Promise<{ default: PrimaryTask }>;
}

/** Started once in the cluster's primary, with the configuration and a logger. */
export type PrimaryTask = (config: Config, log: Logger) => void;

/** Identity function that types a manifest literal. */
export const definePlugin = (manifest: PluginManifest): PluginManifest => manifest;
