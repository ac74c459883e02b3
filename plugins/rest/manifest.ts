import { definePlugin } from '../../core/plugin/manifest.js';
import { restSection } from './config.js';

export default definePlugin({
  name: 'rest',
  description: 'Identity provider asking an HTTP backend (ma1sd\'s REST store protocol)',
  config: { rest: restSection },
  enabled: (c) => c.rest.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
