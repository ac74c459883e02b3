/**
 * docs/configuration.md and config/unisd.example.yaml, generated from the schema and the
 * manifests by `unisd config keys` and `unisd config example` so that they cannot drift from
 * the keys the server accepts (test/config.test.ts compares them).
 */
import { describeFormat } from './formats.js';
import { schemaKeys, writtenValue } from './load.js';
import type { PluginManifest } from '../plugin/manifest.js';
import { BUILTIN_PLUGINS } from '../plugins.js';
import { CORE_EXAMPLE } from './example.js';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function defaultCell(value: unknown): string {
  if (value === '') return '`""`';
  if (typeof value === 'string') return `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

const INTRO = `# Configuration reference

<!-- Generated from core/config/schema.ts and the plugins' manifests by \`npm run docs\`
     (\`unisd config keys\`); do not edit by hand. -->

unisd reads its configuration in this order, each step overriding the previous one:

1. the defaults below (enough to serve on http://127.0.0.1:8090 with SQLite under \`./data\`);
2. a YAML file, given with \`unisd -c <file>\` or the \`UNISD_CONFIG\` environment variable;
3. environment variables \`UNISD_…\`, one per key (below). Lists are comma-separated, maps
   (\`policy.policies\`, \`memory.identities\`) are JSON, booleans are \`true\`/\`false\`
   (\`yes\`/\`no\`, \`on\`/\`off\`, \`1\`/\`0\` too).

Validation is strict: an unknown key at any depth, a value of the wrong type, an unknown enum
value or a malformed duration stops unisd with one line naming the file and line (or the
environment variable), the key and what was expected. \`unisd config check -c <file>\` runs the
same validation and prints the effective configuration with secrets masked.

Durations are written \`2d 4h 12m 34s\` (days, hours, minutes, seconds, \`ms\`; zero units may be
omitted: \`5m 6s\`, \`12s\`, \`6h 3s\`). A bare number is refused, except \`0\`.

Keys marked *secret* are masked by \`unisd config check\` and never appear in error messages.
A commented example of every section is in [config/unisd.example.yaml](../config/unisd.example.yaml).
`;

const HEADER = `| Key | Environment variable | Default | Expected | Description |
| --- | --- | --- | --- | --- |`;

/** One table per owner of sections: the core, then each plugin that has some, with its description. */
export function configurationMarkdown(plugins: readonly PluginManifest[] = BUILTIN_PLUGINS): string {
  const owner = new Map<string, PluginManifest>();
  for (const plugin of plugins) for (const section of Object.keys(plugin.config ?? {})) owner.set(section, plugin);
  const tables = new Map<PluginManifest | null, string[]>([[null, []]]);
  for (const { key, env, spec } of schemaKeys(plugins)) {
    const plugin = owner.get(key.split('.')[0]) ?? null;
    const doc = spec.sensitive ? `${spec.doc} *secret*` : spec.doc;
    const rows = tables.get(plugin) ?? [];
    rows.push(`| \`${key}\` | \`${env}\` | ${cell(defaultCell(writtenValue(spec, spec.default)))} | ${cell(describeFormat(spec))} | ${cell(doc)} |`);
    tables.set(plugin, rows);
  }
  const sections = [...tables].map(([plugin, rows]) => {
    const title = plugin ? `## Plugin \`${plugin.name}\`: ${plugin.description}` : '## Core';
    return `${title}\n\n${HEADER}\n${rows.join('\n')}\n`;
  });
  return `${INTRO}\n${sections.join('\n')}`;
}

/** The example configuration: the core's sections, then each plugin's (those that have some). */
export function exampleConfiguration(plugins: readonly PluginManifest[] = BUILTIN_PLUGINS): string {
  const parts = [CORE_EXAMPLE, ...plugins.flatMap((plugin) => (plugin.example ? [plugin.example] : []))];
  return `${parts.map((part) => part.trim()).join('\n\n')}\n`;
}
