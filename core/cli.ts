#!/usr/bin/env node
/**
 * `unisd`: start the server, check a configuration, list the configuration keys, check the
 * identity providers. Every failure is one line `unisd: …` on stderr and exit status 1, never a
 * stack trace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, loadConfiguration, printableConfig } from './config/load.js';
import { configurationMarkdown, exampleConfiguration } from './config/docs.js';
import { describeStartupError, startServer } from './server.js';
import { checkProviders, formatChecks } from './providers/check.js';
import { withOfflineApp } from './offline-app.js';
import { IMPORT_HELP, importCommand, SourceError, takeImportOptions, type ImportArgs } from './import/command.js';
import { ADMIN_HELP, adminCommand } from '../plugins/admin/command.js';
import { AdminInputError } from '../plugins/admin/protocol.js';
import { CommandError, takeUnifiedViewOptions, UNIFIED_VIEW_HELP, type UnifiedViewArgs } from '../plugins/unified-view-push/cli-options.js';

const HELP = `unisd — a Matrix identity server

Usage:
  unisd [start] [-c <file>]         start the server (default command)
  unisd config check [-c <file>]    validate a configuration and print the effective
                                    configuration as YAML, secrets masked
  unisd config keys [-c <file>]     list every configuration key with its environment
                                    variable, default and meaning (Markdown); with -c,
                                    the keys of its plugins.modules too
  unisd config example [-c <file>]  print config/unisd.example.yaml: every section with
                                    commented example values (with -c, its plugins' too)
  unisd hash status [-c <file>]     the lookup pepper: age, rotation, alternates, table sizes
  unisd hash rotate [-c <file>]     rotate the lookup pepper now (running servers follow)
  unisd providers check [-c <file>] connect to each enabled identity provider, run one
                                    lookup and count its hash source; one line each,
                                    exit status 1 if any failed
${IMPORT_HELP}${ADMIN_HELP}${UNIFIED_VIEW_HELP}  unisd help, unisd --help          this text
  unisd --version                   the version of unisd

Options:
  -c, --config <file>   YAML configuration file (also: UNISD_CONFIG). Without one,
                        the defaults serve on http://127.0.0.1:8090 with SQLite under ./data.

Every key can be overridden by an environment variable, which wins over the file:
hashing.pepperLength is UNISD_HASHING_PEPPER_LENGTH. See config/unisd.example.yaml.
`;

class UsageError extends Error {}

/** Commands of two words, by their first: `unisd config` alone is not an unknown command. */
const SUBCOMMANDS: Record<string, string[]> = {
  config: ['check', 'keys', 'example'],
  hash: ['status', 'rotate'],
  providers: ['check'],
  import: ['sydent', 'ma1sd'],
  'unified-view': ['push'],
};

function parseArgs(argv: string[]): { command: string; file?: string; importArgs: Partial<ImportArgs>; viewArgs: UnifiedViewArgs } {
  const { options: importArgs, rest } = argv[0] === 'import' ? takeImportOptions(argv) : { options: {}, rest: argv };
  const { options: viewArgs, rest: remaining } = takeUnifiedViewOptions(rest);
  argv = remaining;
  const words: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return { command: 'help', importArgs, viewArgs };
    if (arg === '-V' || arg === '--version') return { command: 'version', importArgs, viewArgs };
    if (arg === '-c' || arg === '--config') {
      file = argv[++i];
      if (!file) throw new UsageError(`${arg} needs a file name`);
    } else if (arg.startsWith('--config=')) {
      file = arg.slice('--config='.length);
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg} (see unisd --help)`);
    } else {
      words.push(arg);
    }
  }
  return { command: words.join(' ') || 'start', file, importArgs, viewArgs };
}

/** The version in unisd's package.json, found above this file (core/ from the sources, dist/core/ when built). */
function packageVersion(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'unisd' && manifest.version) return manifest.version;
    }
    if (dirname(dir) === dir) throw new Error('cannot find the package.json of unisd');
  }
}

/** Where loadConfig reads the configuration from: "file <path>" or "defaults". */
function configSource(file: string | undefined): string {
  const path = file ?? (process.env.UNISD_CONFIG || undefined);
  return path ? `file ${resolve(path)}` : 'defaults';
}

async function main(): Promise<void> {
  // unisd admin parses its own arguments (plugins/admin/command.ts).
  if (process.argv[2] === 'admin') return adminCommand(process.argv.slice(3));
  const { command, file, importArgs, viewArgs } = parseArgs(process.argv.slice(2));
  switch (command) {
    case 'import sydent':
    case 'import ma1sd': {
      const { config } = await loadConfiguration({ file });
      await importCommand({ dryRun: false, overwrite: false, db: '', config: '', ...importArgs, from: command.slice('import '.length) }, config);
      return;
    }
    case 'help':
      process.stdout.write(HELP);
      return;
    case 'version':
      process.stdout.write(`unisd ${packageVersion()}\n`);
      return;
    case 'config check': {
      const { config, plugins } = await loadConfiguration({ file });
      // What the plugins check when they start, so that "valid" here means start accepts it.
      await withOfflineApp(config, plugins, async () => {});
      process.stdout.write(`# configuration is valid (${configSource(file)}); secrets masked\n`);
      process.stdout.write(stringify(printableConfig(config, plugins)));
      return;
    }
    case 'config keys':
      // With -c, the keys of the external plugins it loads (plugins.modules) are listed too.
      process.stdout.write(configurationMarkdown(file ? (await loadConfiguration({ file })).plugins : undefined));
      return;
    case 'config example':
      process.stdout.write(exampleConfiguration(file ? (await loadConfiguration({ file })).plugins : undefined));
      return;
    case 'hash status':
    case 'hash rotate': {
      const { hashRotate, hashStatus } = await import('../plugins/lookup/commands.js');
      const { config, plugins } = await loadConfiguration({ file });
      process.stdout.write(command === 'hash status' ? await hashStatus(config) : await hashRotate(config, plugins));
      return;
    }
    case 'providers check': {
      const { config, plugins } = await loadConfiguration({ file });
      const results = await checkProviders(config, plugins);
      process.stdout.write(formatChecks(results));
      if (results.some((r) => r.failure)) process.exitCode = 1;
      return;
    }
    case 'unified-view push':
    case 'lookup': {
      const { lookupCommand, unifiedViewPush } = await import('../plugins/unified-view-push/commands.js');
      const { config, plugins } = command === 'lookup' ? { config: null, plugins: [] } : await loadConfiguration({ file });
      const { text, failed } = config ? await unifiedViewPush(config, plugins, viewArgs.hub) : await lookupCommand(viewArgs);
      process.stdout.write(text);
      if (failed) process.exitCode = 1;
      return;
    }
    case 'start': {
      const { config, plugins } = await loadConfiguration({ file });
      await startServer(config, plugins, configSource(file));
      return;
    }
    default: {
      const [group, subcommand] = command.split(' ');
      const known = SUBCOMMANDS[group];
      if (known && !known.includes(subcommand)) {
        throw new UsageError(`${subcommand ? `unknown command "${command}": ` : ''}"${group}" needs one of: ${known.join(', ')} (see unisd --help)`);
      }
      throw new UsageError(`unknown command "${command}" (see unisd --help)`);
    }
  }
}

// `unisd config keys | head`: the reader left, nothing more to say (not a crash with a stack trace).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main().catch((err) => {
  const message = err instanceof ConfigError || err instanceof UsageError || err instanceof SourceError || err instanceof AdminInputError || err instanceof CommandError ? err.message : describeStartupError(err);
  process.stderr.write(`unisd: ${message}\n`);
  process.exit(1);
});
