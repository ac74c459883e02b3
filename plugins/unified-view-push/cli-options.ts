/**
 * The options of `unisd unified-view push` and `unisd lookup`, read before the CLI's own (kept
 * apart from the commands so that the CLI's start loads nothing else).
 */
import type { ThreePidQuery } from '../unified-view/client.js';

export const UNIFIED_VIEW_HELP = `  unisd unified-view push [-c <file>] [--hub <url>]
                                    push this server's hashed 3PIDs to every hub of
                                    unifiedViewPush.hubs (or the one with this url) now;
                                    one line per hub, exit status 1 if one failed
  unisd lookup --hub <url> [--token <t>] [--server-token <server>=<t>]...
               [--openid <t> --homeserver <name>] [--base <server>=<url>]...
               <medium>:<address>...
                                    find Matrix IDs through a unified-view hub and the
                                    member servers it points to (MSC4004); tokens: --token
                                    at the hub, --server-token at a member, else one
                                    registered with the OpenID token of --homeserver
`;

export class CommandError extends Error {}

export interface UnifiedViewArgs {
  hub?: string;
  token?: string;
  serverTokens: Map<string, string>;
  openId?: string;
  homeserver?: string;
  bases: Map<string, string>;
  threepids: ThreePidQuery[];
}

/** Takes the options of `unified-view push` and `lookup` (and lookup's medium:address words) out of argv. */
export function takeUnifiedViewOptions(argv: string[]): { options: UnifiedViewArgs; rest: string[] } {
  const options: UnifiedViewArgs = { serverTokens: new Map(), bases: new Map(), threepids: [] };
  if (argv[0] !== 'lookup' && argv[0] !== 'unified-view') return { options, rest: argv };
  const rest: string[] = [];
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (!v || v.startsWith('-')) throw new CommandError(`${name} needs a value`);
    return v;
  };
  const pair = (text: string, name: string): [string, string] => {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new CommandError(`${name} expects <server>=<value>, got ${text}`);
    return [text.slice(0, eq), text.slice(eq + 1)];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--hub') options.hub = value(++i, arg);
    else if (arg === '--token') options.token = value(++i, arg);
    else if (arg === '--openid') options.openId = value(++i, arg);
    else if (arg === '--homeserver') options.homeserver = value(++i, arg);
    else if (arg === '--server-token') options.serverTokens.set(...pair(value(++i, arg), arg));
    else if (arg === '--base') options.bases.set(...pair(value(++i, arg), arg));
    else if (argv[0] === 'lookup' && i > 0 && /^[a-z]+:./.test(arg)) {
      const colon = arg.indexOf(':');
      options.threepids.push({ medium: arg.slice(0, colon), address: arg.slice(colon + 1) });
    } else rest.push(arg);
  }
  return { options, rest };
}

