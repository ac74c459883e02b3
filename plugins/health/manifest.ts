/** The health plugin: liveness and readiness routes for load balancers; always on. */
import { definePlugin } from '../../core/plugin/manifest.js';

export default definePlugin({
  name: 'health',
  description: 'Health checks: /_unisd/health (alive) and /_unisd/ready (the store and the plugins\' readiness checks)',
  enabled: () => true,
  plugin: () => import('./index.js'),
});
