import { definePlugin } from '../../core/plugin/manifest.js';
import { ldapSection } from './config.js';

export default definePlugin({
  name: 'ldap',
  description: 'LDAP / Active Directory identity provider: lookups and the hash source from a directory.',
  config: { ldap: ldapSection },
  enabled: (c) => c.ldap.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
