/**
 * `unisd import sydent|ma1sd --db <source> --config <its configuration> [--dry-run] [--overwrite]`
 * into the storage of the unisd configuration given with -c. Exit status 1 when conflicts
 * stopped it (the report lists them) or the source cannot be read.
 */
import type { Config } from '../config/load.js';
import { openStore } from '../store/index.js';
import { runImport, type ImportResult } from './importer.js';
import { openSydentSource } from './sydent.js';
import { openMa1sdSource } from './ma1sd.js';
import { SourceError, type ImportSource } from './source.js';

export { SourceError } from './source.js';

export const IMPORT_HELP = `  unisd import sydent --db <sydent.db> --config <sydent.conf> [--dry-run] [--overwrite] [-c <file>]
  unisd import ma1sd --db <sqlite file | postgresql://…> --config <ma1sd.yaml> [--dry-run] [--overwrite] [-c <file>]
                                    bring an old identity server's binds, invites, tokens,
                                    accepted terms, pepper and signing key into the storage
                                    of this configuration (README: Migrating)
`;

export interface ImportArgs {
  from: string;
  db: string;
  config: string;
  dryRun: boolean;
  overwrite: boolean;
}

/** Reads the import's own options out of `argv`, leaving the others. */
export function takeImportOptions(argv: string[]): { options: Partial<ImportArgs>; rest: string[] } {
  const options: Partial<ImportArgs> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--db' || arg === '--config') {
      const value = argv[++i];
      if (!value) throw new SourceError(`${arg} needs a value`);
      options[arg === '--db' ? 'db' : 'config'] = value;
    } else if (arg === '--dry-run') options.dryRun = true;
    else if (arg === '--overwrite') options.overwrite = true;
    else rest.push(arg);
  }
  return { options, rest };
}

export async function openSource(from: string, db: string, config: string): Promise<ImportSource> {
  if (from === 'sydent') return openSydentSource(db, config);
  if (from === 'ma1sd') return openMa1sdSource(db, config);
  throw new SourceError(`unknown source "${from}": sydent or ma1sd`);
}

/**
 * The storage as the import writes it: an SQLite file without a sync per write (an import is
 * re-run after a power loss, finding what is already there); the file is synced when closed.
 */
export const importStorage = (storage: Config['storage']): Config['storage'] =>
  storage.backend === 'sqlite' ? { ...storage, sqlite: { ...storage.sqlite, synchronous: 'normal' } } : storage;

export async function importCommand(args: ImportArgs, config: Config): Promise<ImportResult> {
  if (!args.db || !args.config) throw new SourceError(`import ${args.from} needs --db and --config (see unisd --help)`);
  const source = await openSource(args.from, args.db, args.config);
  try {
    const store = await openStore(importStorage(config.storage));
    try {
      const out = (line: string): void => { process.stdout.write(`${line}\n`); };
      out(`unisd import ${args.from}${args.dryRun ? ' (dry run: nothing is written)' : ''}`);
      const result = await runImport(source, store, config, {
        dryRun: args.dryRun, overwrite: args.overwrite, out, progress: (line) => process.stderr.write(`${line}\n`),
      });
      if (result.conflicts > 0 && !args.overwrite) {
        throw new SourceError(`the store already holds different data for ${result.conflicts} entries (listed above as conflicts); nothing was imported. --overwrite replaces them`);
      }
      if (result.written) out('import done: restart unisd to serve the imported signing key and pepper');
      return result;
    } finally {
      await store.close();
    }
  } finally {
    await source.close();
  }
}
