/** The terms plugin (MSC2140): GET/POST /terms and the terms gate of v2. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { policySection } from './config.js';

const config = {
  policy: policySection,
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'terms',
  description: 'terms of service: GET/POST /terms and the gate v2 applies',
  config,
  enabled: () => true,
  plugin: () => import('./index.js'),
});
