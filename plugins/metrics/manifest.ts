/** The metrics plugin: Prometheus metrics of the whole server on a listener of their own. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';

const config = {
  metrics: {
    enabled: { doc: 'Serve Prometheus metrics (GET /metrics) on a listener of their own, never on the public port.', format: 'boolean', default: false },
    host: { doc: 'Address the metrics listener binds to: loopback keeps the metrics on this machine (a Prometheus elsewhere: an internal address, never a public one).', format: String, default: '127.0.0.1' },
    port: { doc: 'Port of the metrics listener (must differ from server.port).', format: 'port', default: 9095 },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'metrics',
  description: 'Prometheus metrics on a separate listener: requests, lookups, providers, deliveries, refusals, process',
  config,
  example: `
metrics:
  # Prometheus metrics (GET /metrics) on a listener of their own, never on the public port.
  enabled: true
  # Loopback keeps them on this machine; a Prometheus elsewhere: an internal address.
  host: 127.0.0.1
  port: 9095
`,
  enabled: (c) => c.metrics.enabled,
  plugin: () => import('./index.js'),
});
