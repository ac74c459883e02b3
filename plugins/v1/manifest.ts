/** The v1 plugin (matrix.v1): the deprecated /_matrix/identity/api/v1 API. */
import { definePlugin } from '../../core/plugin/manifest.js';

export default definePlugin({
  name: 'v1',
  description: 'the deprecated /_matrix/identity/api/v1 API',
  enabled: (c) => c.matrix.v1,
  plugin: () => import('./index.js'),
});
