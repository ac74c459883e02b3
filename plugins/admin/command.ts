/**
 * `unisd admin …`: through the running server's admin socket when one answers, otherwise on
 * the store opened here (./offline.ts); the same AdminService does the work either way. Output
 * for people by default, one JSON object with --json. A bad argument or a refusal is one line
 * `unisd: admin …` on stderr and exit status 1 (thrown to core/cli.ts).
 */
import { loadConfiguration } from '../../core/config/load.js';
import { AdminInputError, parseRequest, type AdminRequest } from './protocol.js';
import { adminSocketPath } from './socket-path.js';
import { askAdminSocket } from './socket.js';
import type { AdminAnswer } from './answer.js';
import { formatResult } from './format.js';

export const ADMIN_HELP = `  unisd admin <command> [-c <file>] [--json]
                                    work on the store, through the running server's
                                    admin socket when one runs:
    lookup <medium> <address>       the bind of a 3PID and the invites waiting for it
    binds --mxid <@user:server>     a user's binds
    unbind <medium> <address>       remove a bind (the owner is mailed, as on /unbind)
    tokens --mxid <@user:server>    a user's access tokens (ids: their hashes)
    tokens revoke <id> | --mxid <@user:server>
    onbind list [--limit N] | retry <id> | drop <id>
                                    the 3pid/onbind delivery queue
    invites list [<medium> <address>] [--sender <@user:server>] [--limit N]
    invites drop <token>            pending invitations
    erase --mxid <@user:server> | erase <medium> <address>
                                    delete everything held for a user or a 3PID
`;

const SUBCOMMANDS: Record<string, string[]> = { tokens: ['revoke'], onbind: ['list', 'retry', 'drop'], invites: ['list', 'drop'] };
const VALUE_OPTIONS = new Set(['--mxid', '--sender', '--limit', '-c', '--config']);

interface AdminArgs {
  request: Record<string, unknown>;
  file?: string;
  json: boolean;
}

const usage = (message: string): never => { throw new AdminInputError(`${message} (see unisd --help)`); };

/** Reads the words and options after `unisd admin`. */
export function parseAdminArgs(argv: string[]): AdminArgs {
  const words: string[] = [];
  const options: Record<string, string> = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') {
      json = true;
      continue;
    }
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (VALUE_OPTIONS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('-'))) usage(`${name} needs a value`);
      options[name === '-c' ? '--config' : name] = value!;
    } else if (arg.startsWith('-') && arg.length > 1) {
      usage(`unknown option ${arg}`);
    } else {
      words.push(arg);
    }
  }
  const [first, ...rest] = words;
  if (!first) return usage('admin needs a command');
  const sub = SUBCOMMANDS[first]?.includes(rest[0] ?? '') ? rest.shift() : undefined;
  const command = sub ? `${first} ${sub}` : first;
  const limit = options['--limit'] === undefined ? undefined : /^\d{1,6}$/.test(options['--limit']) ? Number(options['--limit']) : usage('--limit must be a number');
  const threepid = () => (rest.length === 2 ? { medium: rest[0], address: rest[1] } : usage(`admin ${command} takes <medium> <address>`));
  const noWords = () => { if (rest.length > 0) usage(`admin ${command}: unexpected ${JSON.stringify(rest[0])}`); };
  const one = (what: string) => (rest.length === 1 ? rest[0] : usage(`admin ${command} takes ${what}`));
  const mxid = options['--mxid'];
  const request = ((): Record<string, unknown> => {
    switch (command) {
      case 'lookup':
      case 'unbind':
        return { command, threepid: threepid() };
      case 'binds':
      case 'tokens':
        noWords();
        return { command, mxid: mxid ?? usage(`admin ${command} needs --mxid <@user:server>`) };
      case 'tokens revoke':
        if (mxid !== undefined) return noWords(), { command, mxid };
        return { command, token: one('a token id or --mxid <@user:server>') };
      case 'onbind list':
        noWords();
        return { command, limit };
      case 'onbind retry':
      case 'onbind drop':
        return { command, id: one('a delivery id') };
      case 'invites list':
        return { command, ...(rest.length > 0 ? { threepid: threepid() } : {}), sender: options['--sender'], limit };
      case 'invites drop':
        return { command, token: one('an invite token') };
      case 'erase':
        if (mxid !== undefined) return noWords(), { command, mxid };
        return { command, threepid: rest.length === 2 ? threepid() : usage('admin erase takes --mxid <@user:server> or <medium> <address>') };
      default:
        return usage(`unknown admin command "${command}"`);
    }
  })();
  for (const option of ['--mxid', '--sender', '--limit'] as const) {
    if (options[option] !== undefined && !(option.slice(2) in request)) usage(`admin ${command} takes no ${option}`);
  }
  return { request, file: options['--config'], json };
}

export async function adminCommand(argv: string[]): Promise<void> {
  process.stdout.write(await runAdmin(argv));
}

/** Runs `unisd admin <argv>` and returns what it prints; throws the one-line error. */
export async function runAdmin(argv: string[]): Promise<string> {
  const { request: raw, file, json } = parseAdminArgs(argv);
  let request: AdminRequest;
  try {
    request = parseRequest(raw);
  } catch (err) {
    throw new AdminInputError(`admin ${String(raw.command)}: ${(err as Error).message}`);
  }
  const { config } = await loadConfiguration({ file });
  const path = adminSocketPath(config);
  let reply: AdminAnswer;
  let via: 'server' | 'store' = 'store';
  const asked = path === null ? null : await askAdminSocket(path, JSON.stringify(request));
  if (asked?.connected) {
    reply = JSON.parse(asked.answer) as AdminAnswer;
    via = 'server';
  } else {
    if (asked?.code === 'EACCES') throw new Error(`admin: the admin socket ${path} is not yours (run unisd admin as the user the server runs as)`);
    const { answerOffline } = await import('./offline.js');
    reply = await answerOffline(config, request);
  }
  if (!reply.ok) throw new AdminInputError(`admin ${request.command}: ${reply.error}`);
  return json ? `${JSON.stringify({ ...reply.result, via })}\n` : formatResult(reply.result);
}
