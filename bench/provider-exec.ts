/**
 * Hash-source streaming rate of the exec provider: a program lists 100k mappings (the test
 * fixture test/fixtures/exec/list.mjs) in each output format, read and batched by the provider.
 * `npx tsx bench/provider-exec.ts` prints one line per format; the function returns the figures.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ExecProvider, type ExecutableConfig } from '../plugins/exec/provider.js';

const ROWS = 100_000;
const LISTER = resolve(import.meta.dirname, '../test/fixtures/exec/list.mjs');

export interface StreamFigure {
  format: string;
  rows: number;
  ms: number;
  rowsPerSecond: number;
}

const program = (command: string, env: Record<string, string>, output: string): ExecutableConfig =>
  ({ command, args: [], env, output: { type: output }, exit: { success: [0], failure: [1] } });

export async function benchExecProvider(rows = ROWS): Promise<StreamFigure[]> {
  const figures: StreamFigure[] = [];
  for (const [format, output] of [['ma1sd', 'json'], ['jsonl', 'json'], ['plain', 'plain']]) {
    const none = program('', {}, 'json');
    const provider = new ExecProvider({
      single: none, bulk: none, all: program(LISTER, { COUNT: String(rows), FORMAT: format }, output),
      token: {}, domain: 'example.org', priority: 20, hashEnabled: true, timeout: 60_000, maxOutputBytes: 1_048_576,
    });
    const start = performance.now();
    let count = 0;
    for await (const batch of provider.mappings(new AbortController().signal)) count += batch.length;
    const ms = performance.now() - start;
    figures.push({ format, rows: count, ms: Math.round(ms), rowsPerSecond: Math.round(count / ms * 1000) });
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`exec provider, hash-source streaming of ${ROWS} mappings (program start included):`);
  for (const f of await benchExecProvider()) console.log(`    ${f.format.padEnd(6)} ${f.rows} rows in ${f.ms} ms: ${f.rowsPerSecond} rows/s`);
}
