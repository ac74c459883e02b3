/** The exec identity provider plugin: the operator's programs answer lookups (`exec.*`, ma1sd's section). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { execSection } from './config.js';

const config = { exec: execSection };

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'exec',
  description: 'identity provider: the operator\'s programs, run without a shell (ma1sd\'s exec store)',
  config,
  example: `
exec:
  # Your own programs answering lookups (ma1sd's exec store; see plugins/exec/README.md).
  enabled: false
  # A lookup program running longer is killed (with what it started); the listing program when silent that long.
  timeout: 10s
  # Largest output read from a lookup program; largest line or item of the listing.
  maxOutputBytes: 1048576
  # Token texts, if {medium} and {address} clash with your arguments.
  token: {}
  identity:
    enabled: true
    # Lower is asked first (ma1sd asked higher first).
    priority: 20
    # Let hash lookup read every mapping from lookup.all (or the bulk program, with no input).
    hashEnabled: false
    # ma1sd's name for hashEnabled.
    hashLookup: false
    lookup:
      single:
        # Run directly, never through a shell: put "--" before the tokens if your program takes options.
        command: /opt/unisd-exec/lookup.sh
        args: ['--', '{medium}', '{address}']
        env: {}
        token: {}
        input:
          # '' (nothing), json or plain.
          type: ''
          template: ''
        output:
          # json: {"lookup": {..., "id": {"type": "localpart"|"mxid", "value": ...}}}; plain: the user ID's lines.
          type: plain
        exit:
          success: [0]
          # "Nothing found"; any other code is a failure (logged, counted, skipped).
          failure: [1]
      bulk:
        command: ''
        args: []
        env: {}
        input:
          type: json
        output:
          type: json
        exit:
          success: [0]
          failure: [1]
      all:
        # Lists every mapping, streamed: ma1sd's {"lookup": [...]}, JSON lines, or plain tab-separated lines.
        command: ''
        args: []
        env: {}
        output:
          type: json
        exit:
          # Any other code fails the listing (a partial listing never replaces a whole one).
          success: [0]
  # ma1sd's auth, directory and profile features: accepted, ignored.
  auth: {}
  directory: {}
  profile: {}
`,
  enabled: (c) => c.exec.enabled && c.exec.identity.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
