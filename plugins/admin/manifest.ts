/** The admin plugin: the local socket `unisd admin` commands use while the server runs. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';

const config = {
  admin: {
    enabled: {
      doc: 'Serve the admin socket, through which `unisd admin` works on the store while this server runs (a Unix socket, mode 0600; never TCP). Off: `unisd admin` only works while no server holds the store.',
      format: 'boolean', default: true,
    },
    socket: {
      doc: 'Path of the admin socket; empty: admin.sock in the directory of storage.sqlite.path (./data/admin.sock). The CLI finds it from the same configuration.',
      format: String, default: '',
    },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'admin',
  description: 'admin socket for `unisd admin` (lookup, binds, unbind, tokens, onbind, invites, erase) while the server runs',
  config,
  example: `
admin:
  # The local socket unisd admin commands use while the server runs (mode 0600, never TCP).
  enabled: true
  # Empty: admin.sock beside the SQLite file (./data/admin.sock).
  socket: ""
`,
  enabled: (c) => c.admin.enabled,
  dependencies: ['binds', 'invites', 'email'],
  plugin: () => import('./index.js'),
});
