/** The metrics plugin: Prometheus metrics of the whole server on a separate listener. */
import { definePlugin } from '../../core/plugin/manifest.js';
import { config } from './config.js';

export default definePlugin({
  name: 'metrics',
  description: 'metrics: Prometheus /metrics on a separate listener (requests, lookups, providers, deliveries, refusals, process)',
  config,
  enabled: (c) => c.metrics.enabled,
  plugin: () => import('./index.js'),
});
