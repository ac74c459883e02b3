/** The v2 plugin (matrix.v2): /_matrix/identity/v2 behind the token and terms gates. */
import { definePlugin } from '../../core/plugin/manifest.js';

export default definePlugin({
  name: 'v2',
  description: 'the /_matrix/identity/v2 API behind the token and terms gates',
  enabled: (c) => c.matrix.v2,
  dependencies: ['accounts', 'terms'],
  plugin: () => import('./index.js'),
});
