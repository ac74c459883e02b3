/** The metrics plugin's config section (its manifest's; core/config/schema.ts includes it until manifests compose the schema). */
export const config = {
  metrics: {
    enabled: { doc: 'Serve Prometheus metrics (GET /metrics) on a listener of their own, never on the public port.', format: 'boolean', default: false },
    host: { doc: 'Address the metrics listener binds to: loopback keeps the metrics on this machine (a Prometheus elsewhere: an internal address, never a public one).', format: String, default: '127.0.0.1' },
    port: { doc: 'Port of the metrics listener (must differ from server.port).', format: 'port', default: 9095 },
  },
};
