import { definePlugin } from '../../core/plugin/manifest.js';
import { execSection } from './config.js';

export default definePlugin({
  name: 'exec',
  description: 'Identity provider running the operator\'s programs (ma1sd\'s exec store)',
  config: { exec: execSection },
  enabled: (c) => c.exec.enabled && c.exec.identity.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
