/**
 * What a plugin folder exports (its `manifest.ts`, default export): the core loads the plugins
 * the configuration enables from these, built-in ones from core/plugins.ts and external ones
 * from `plugins.modules`. The core composes the configuration schema from every manifest's
 * `config` sections, so a plugin's keys are validated, documented and overridable by
 * environment variables like the core's own.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ConfigKey } from '../config/formats.js';
import type { Config } from '../config/load.js';

/** A schema fragment: nested sections whose leaves are ConfigKey (doc, format, default, …). */
export interface ConfigSection { [name: string]: ConfigSection | ConfigKey }

export interface PluginManifest {
  /** Short name, unique: `ldap`. Its Fastify plugin is registered as `unisd-<name>`. */
  name: string;
  /** One-line description, for logs and `unisd plugins`. */
  description: string;
  /** Top-level config sections this plugin owns: `{ ldap: { enabled: {…}, … } }`. */
  config?: Record<string, ConfigSection>;
  /** Whether the loaded configuration turns this plugin on (ma1sd's switches: `c.ldap.enabled`). */
  enabled: (config: Config) => boolean;
  /** Names of plugins that must be registered before this one (`['binds']`). */
  dependencies?: string[];
  /** The Fastify plugin, loaded only when enabled. */
  plugin: () => Promise<{ default: FastifyPluginAsync<any> }>;
}

/** Identity function that types a manifest literal. */
export const definePlugin = (manifest: PluginManifest): PluginManifest => manifest;
