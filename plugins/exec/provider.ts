/**
 * The exec identity provider: ma1sd's exec store for lookups. A single lookup runs
 * `exec.identity.lookup.single` with the 3PID in its arguments, environment or input; a bulk
 * lookup runs `.bulk` with the list on its input; hash lookup reads `.all` (or the bulk program
 * with no input, as ma1sd did) as a stream. Formats: plugins/exec/README.md.
 */
import type { IdentityProvider, Mapping, ProviderCapabilities } from '../../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../../core/providers/provider.js';
import type { ThreePid } from '../../core/store/port.js';
import { bulkAnswer, bulkRequest, MEDIA, mappingOf, mappingsOf, mxidOf, ProtocolError, singleAnswer, type SkipCounter } from '../rest/protocol.js';
import { ExecError, runCommand, streamCommand, type Command, type RunLimits } from './command.js';
import { jsonItems, lines } from './stream-items.js';

export interface ExecutableConfig {
  command: string;
  args: string[];
  env: Record<string, unknown>;
  token?: Record<string, string>;
  input?: { type: string; template?: string };
  output: { type: string };
  /** The listing has no failure codes: anything but success fails it. */
  exit: { success: unknown[]; failure?: unknown[] };
}

export interface ExecProviderOptions extends RunLimits {
  single: ExecutableConfig;
  bulk: ExecutableConfig;
  all: ExecutableConfig;
  /** exec.token: token texts for every program. */
  token: Record<string, string>;
  /** matrix.domain, completing localparts. */
  domain: string;
  priority: number;
  hashEnabled: boolean;
}

/** A 3PID with a control character (a line break…) is no email or phone number: never handed to a program. */
const CONTROL = /\p{Cc}/u;

const codes = (list: unknown[]): number[] => list.map(Number);

/** One tab-separated plain line: `medium, address, value` (a localpart) or `medium, address, type, value`. */
function plainItem(line: string): unknown {
  const fields = line.split('\t');
  if (fields.length === 3) return { medium: fields[0], address: fields[1], id: { type: 'localpart', value: fields[2] } };
  if (fields.length === 4) return { medium: fields[0], address: fields[1], id: { type: fields[2], value: fields[3] } };
  return null;
}

/** ma1sd's plain single answer: `value` (a localpart), or `type` then `value`; nothing for no match. */
function plainSingleAnswer(output: string, domain: string): string | null {
  const answer = output.split(/\r?\n/);
  while (answer.length > 0 && answer[answer.length - 1].trim() === '') answer.pop();
  if (answer.length === 0) return null;
  if (answer.length > 2) throw new ProtocolError('the plain single lookup answer has more than 2 lines');
  const [type, value] = answer.length === 1 ? ['localpart', answer[0]] : [answer[0].trim() || 'localpart', answer[1]];
  const mxid = mxidOf({ type, value }, domain);
  if (!mxid) throw new ProtocolError('the plain single lookup answer is not a localpart (with matrix.domain set) or a Matrix ID');
  return mxid;
}

export class ExecProvider implements IdentityProvider, SkipCounter {
  readonly name = 'exec';
  readonly priority: number;
  readonly capabilities: ProviderCapabilities;
  /** Answer items that could not be used (unknown media, malformed), since start. */
  skipped = 0;

  constructor(private readonly options: ExecProviderOptions) {
    this.priority = options.priority;
    this.capabilities = {
      media: MEDIA,
      bulk: options.bulk.command !== '',
      hashSource: options.hashEnabled && (options.all.command !== '' || options.bulk.command !== ''),
    };
  }

  async lookup(threepid: ThreePid, signal: AbortSignal): Promise<string | null> {
    if (CONTROL.test(threepid.address)) return null;
    if (this.options.single.command === '') {
      const [found] = await this.bulkLookup([threepid], signal);
      return found?.mxid ?? null;
    }
    const program = this.options.single;
    const fill = this.tokenFiller(program, threepid);
    const { code, output } = await runCommand(this.command(program, fill), this.singleInput(program, threepid), this.options, signal);
    if (!this.answered(program, code)) return null;
    return program.output.type === 'plain' ? plainSingleAnswer(output, this.options.domain) : singleAnswer(output.trim() === '' ? {} : parseJson(output), this.options.domain);
  }

  async bulkLookup(threepids: ThreePid[], signal: AbortSignal): Promise<Mapping[]> {
    const asked = threepids.filter((t) => !CONTROL.test(t.address));
    if (asked.length === 0 || this.options.bulk.command === '') return [];
    const program = this.options.bulk;
    const input = program.input?.type === 'plain'
      ? asked.map((t) => `${t.medium}\t${t.address}\n`).join('')
      : program.input?.type === 'json' ? JSON.stringify(bulkRequest(asked)) : '';
    const { code, output } = await runCommand(this.command(program, (text) => text), input, this.options, signal);
    if (!this.answered(program, code)) return [];
    if (program.output.type === 'plain') {
      return mappingsOf(output.split(/\r?\n/).filter((line) => line.trim() !== '').map(plainItem), this.options.domain, this);
    }
    return output.trim() === '' ? [] : bulkAnswer(parseJson(output), this.options.domain, this);
  }

  async *mappings(signal: AbortSignal): AsyncGenerator<Mapping[]> {
    // ma1sd listed every mapping by running the bulk program with no input.
    const program = this.options.all.command !== '' ? this.options.all : this.options.bulk;
    const chunks = streamCommand(this.command(program, (text) => text), '', codes(program.exit.success), this.options, signal);
    const items = program.output.type === 'plain'
      ? mapItems(lines(chunks, this.options.maxOutputBytes), plainItem)
      : jsonItems(chunks, this.options.maxOutputBytes);
    let batch: Mapping[] = [];
    for await (const item of items) {
      const mapping = mappingOf(item, this.options.domain);
      if (!mapping) {
        this.skipped++;
        continue;
      }
      batch.push(mapping);
      if (batch.length === MAPPING_BATCH_SIZE) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** Success codes: read the output; failure codes: nothing found; anything else: the provider failed. */
  private answered(program: ExecutableConfig, code: number): boolean {
    if (codes(program.exit.success).includes(code)) return true;
    if (codes(program.exit.failure ?? []).includes(code)) return false;
    throw new ExecError(`${program.command} exited with code ${code}`);
  }

  private tokenFiller(program: ExecutableConfig, threepid: ThreePid): (text: string) => string {
    const token = (name: 'medium' | 'address') => program.token?.[name] ?? this.options.token[name] ?? `{${name}}`;
    const medium = token('medium');
    const address = token('address');
    return (text) => text.replaceAll(medium, threepid.medium).replaceAll(address, threepid.address);
  }

  /** The program's argv and environment, tokens filled; the program path itself is never filled from a 3PID. */
  private command(program: ExecutableConfig, fill: (text: string) => string): Command {
    return {
      command: program.command,
      args: program.args.map(fill),
      env: Object.fromEntries(Object.entries(program.env).map(([name, value]) => [name, fill(String(value))])),
    };
  }

  private singleInput(program: ExecutableConfig, threepid: ThreePid): string {
    const type = program.input?.type ?? '';
    if (type === '') return '';
    const template = program.input?.template ?? '';
    if (type === 'json') {
      // ma1sd sent the 3PID itself as JSON; a template gets its values JSON-escaped so it stays JSON.
      if (template === '') return JSON.stringify({ medium: threepid.medium, address: threepid.address });
      const escaped = { medium: JSON.stringify(threepid.medium).slice(1, -1), address: JSON.stringify(threepid.address).slice(1, -1) };
      return this.tokenFiller(program, escaped)(template);
    }
    return template === '' ? `${threepid.medium}\n${threepid.address}\n` : this.tokenFiller(program, threepid)(template);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError('the output is not JSON');
  }
}

async function* mapItems<T, U>(source: AsyncIterable<T>, map: (value: T) => U): AsyncGenerator<U> {
  for await (const value of source) yield map(value);
}
