/**
 * The plugins unisd can load, in registration order, and the config that enables each.
 * Feature plugins add routes to the identity API; `v1` and `v2` come last and mount them.
 * To add a plugin: one folder under plugins/, one line here (see docs/plugins.md).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from './config/load.js';

export interface PluginEntry {
  /** Short name, as in logs and docs. */
  name: string;
  enabled: (config: Config) => boolean;
  load: () => Promise<{ default: FastifyPluginAsync<any> }>;
}

export const PLUGINS: PluginEntry[] = [
  { name: 'federation', enabled: () => true, load: () => import('./federation/plugin.js') },
  { name: 'accounts', enabled: () => true, load: () => import('../plugins/accounts/index.js') },
  { name: 'terms', enabled: () => true, load: () => import('../plugins/terms/index.js') },
  { name: 'keys', enabled: () => true, load: () => import('../plugins/keys/index.js') },
  { name: 'memory-provider', enabled: (c) => c.memory.enabled, load: () => import('../plugins/memory-provider/index.js') },
  { name: 'email', enabled: () => true, load: () => import('../plugins/email/index.js') },
  { name: 'sms', enabled: () => true, load: () => import('../plugins/sms/index.js') },
  { name: 'validation', enabled: () => true, load: () => import('../plugins/validation/index.js') },
  { name: 'invites', enabled: () => true, load: () => import('../plugins/invites/index.js') },
  { name: 'binds', enabled: () => true, load: () => import('../plugins/binds/index.js') },
  { name: 'lookup', enabled: () => true, load: () => import('../plugins/lookup/index.js') },
  { name: 'exec', enabled: (c) => c.exec.enabled && c.exec.identity.enabled, load: () => import('../plugins/exec/index.js') },
  { name: 'rest', enabled: (c) => c.rest.enabled, load: () => import('../plugins/rest/index.js') },
  { name: 'v1', enabled: (c) => c.matrix.v1, load: () => import('../plugins/v1/index.js') },
  { name: 'v2', enabled: (c) => c.matrix.v2, load: () => import('../plugins/v2/index.js') },
];
