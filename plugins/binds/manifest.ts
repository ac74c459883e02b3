/** The binds plugin: /3pid/bind, /3pid/unbind and the local-bindings provider. */
import { definePlugin } from '../../core/plugin/manifest.js';

export default definePlugin({
  name: 'binds',
  description: 'binds: /3pid/bind, /3pid/unbind, local bindings as provider 0',
  enabled: () => true,
  dependencies: ['validation', 'email', 'invites'],
  plugin: () => import('./index.js'),
});
