// An external unisd plugin: an identity provider answering from a CSV file of
// `medium,address,mxid` lines. Listed in `plugins.modules`, its `csvDirectory` section is then
// validated, documented and overridable (UNISD_CSV_DIRECTORY_FILE) like unisd's own.
// Imports from unisd are types only (erased at run time): this folder runs from anywhere.
import type { PluginManifest } from 'unisd/core/plugin/manifest.js';
import type { SectionValues } from 'unisd/core/config/types.js';

export const config = {
  csvDirectory: {
    enabled: { doc: 'Answer lookups from a CSV file of medium,address,mxid lines.', format: 'boolean', default: false },
    file: { doc: 'The CSV file; addresses written normalised (emails in lower case).', format: String, default: '' },
    priority: { doc: 'Order among identity providers (lower answers first, 1 and up).', format: 'nat', default: 50 },
  },
};

export type CsvDirectoryConfig = SectionValues<typeof config>;

export default {
  name: 'csv-directory',
  description: 'identity provider: a CSV file of medium,address,mxid lines',
  config,
  // Shown by `unisd config example -c unisd.yaml` with unisd's own sections.
  example: `
csvDirectory:
  # Answer lookups from a CSV file of medium,address,mxid lines.
  enabled: false
  file: /etc/unisd/people.csv
  # Order among identity providers (lower answers first).
  priority: 50
`,
  enabled: (c) => (c as unknown as CsvDirectoryConfig).csvDirectory.enabled,
  plugin: () => import('./index.js'),
} satisfies PluginManifest;
