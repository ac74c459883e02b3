/** The keys plugin: /pubkey routes. */
import { definePlugin } from '../../core/plugin/manifest.js';

export default definePlugin({
  name: 'keys',
  description: 'public keys: /pubkey/:keyId and the validity checks',
  enabled: () => true,
  plugin: () => import('./index.js'),
});
