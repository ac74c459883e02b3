/** The health plugin: liveness and readiness routes for load balancers; always on. */
import { definePlugin } from '../../core/plugin/manifest.js';

export default definePlugin({
  name: 'health',
  description: 'health: /_unisd/health (alive) and /_unisd/ready (store reachable, readiness checks of the plugins)',
  enabled: () => true,
  plugin: () => import('./index.js'),
});
