#!/usr/bin/env node
/**
 * `unisd`: start the server, or check a configuration.
 *   unisd [start] [-c file]        start (default command)
 *   unisd config check [-c file]   validate and print the effective config, secrets masked
 *   unisd --help
 */
import { stringify } from 'yaml';
import { ConfigError, loadConfig, maskedConfig } from './config/load.js';
import { describeStartupError, startServer } from './server.js';

const HELP = `unisd — a Matrix identity server

Usage:
  unisd [start] [-c <file>]         start the server (default command)
  unisd config check [-c <file>]    validate a configuration and print the effective
                                    configuration, secrets masked
  unisd --help                      this text

Options:
  -c, --config <file>   YAML configuration file (also: UNISD_CONFIG). Without one,
                        the defaults serve on 127.0.0.1:8090 with SQLite under ./data.

Every key can be overridden by an environment variable: hashing.pepperLength is
UNISD_HASHING_PEPPER_LENGTH. See config/unisd.example.yaml for every key.
`;

function parseArgs(argv: string[]): { command: string[]; file?: string; help: boolean } {
  const command: string[] = [];
  let file: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '-c' || arg === '--config') {
      file = argv[++i];
      if (!file) throw new ConfigError(`${arg} needs a file name`);
    } else if (arg.startsWith('--config=')) file = arg.slice('--config='.length);
    else if (arg.startsWith('-')) throw new ConfigError(`unknown option ${arg} (see unisd --help)`);
    else command.push(arg);
  }
  return { command, file, help };
}

async function main(): Promise<void> {
  const { command, file, help } = parseArgs(process.argv.slice(2));
  if (help) {
    process.stdout.write(HELP);
    return;
  }
  const name = command.join(' ') || 'start';
  if (name === 'config check') {
    const config = loadConfig({ file });
    process.stdout.write(`# configuration is valid${file || process.env.UNISD_CONFIG ? ` (${file ?? process.env.UNISD_CONFIG})` : ' (defaults)'}\n`);
    process.stdout.write(stringify(maskedConfig(config)));
    return;
  }
  if (name !== 'start') throw new ConfigError(`unknown command "${name}" (see unisd --help)`);
  await startServer(loadConfig({ file }));
}

main().catch((err) => {
  process.stderr.write(`unisd: ${err instanceof ConfigError ? err.message : describeStartupError(err)}\n`);
  process.exit(1);
});
