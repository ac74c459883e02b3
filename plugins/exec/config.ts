/**
 * The `exec` section, with ma1sd's key names: `exec.enabled`, `exec.token`, and per lookup
 * (`exec.identity.lookup.single`, `.bulk`) ma1sd's executable keys `command`, `args`, `env`,
 * `token`, `input.type`/`input.template`, `output.type`, `exit.success`/`exit.failure`.
 * unisd adds `exec.identity.lookup.all` (the listing hash lookup reads), `exec.timeout` and
 * `exec.maxOutputBytes`. ma1sd's other exec features (auth, directory, profile) are accepted and
 * ignored, so its configs load unchanged.
 */
import type { ConfigSection } from '../../core/plugin/manifest.js';
import { parseDuration } from '../../core/config/duration.js';

/** ma1sd's token names; unisd's lookups fill `medium` and `address`. */
const TOKEN_NAMES = ['localpart', 'domain', 'mxid', 'password', 'medium', 'address', 'type', 'query'];

const TOKENS_EXPECTED = `a map of token name (${TOKEN_NAMES.join(', ')}) to the text standing for it, such as {address: "%ADDRESS%"}`;

function checkTokens(value: unknown): void {
  for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
    if (!TOKEN_NAMES.includes(name)) throw new Error(`${name}: unknown key, expected one of ${TOKEN_NAMES.join(', ')}`);
    if (typeof text !== 'string' || text === '') throw new Error(`${name}: expected non-empty text`);
  }
}

function checkEnv(value: unknown): void {
  for (const [name, text] of Object.entries(value as Record<string, unknown>)) {
    if (typeof text !== 'string' && typeof text !== 'number' && typeof text !== 'boolean') throw new Error(`${name}: expected text`);
  }
}

function checkExitCodes(value: unknown): void {
  (value as unknown[]).forEach((code, i) => {
    if (!Number.isInteger(Number(code)) || String(code).trim() === '') throw new Error(`[${i}]: expected a whole number`);
  });
}

const tokens = (scope: string) => ({
  doc: `Token texts ${scope}: where an argument, variable or input template holds {address} and {medium} by default.`,
  format: Object, check: checkTokens, expected: TOKENS_EXPECTED, default: {} as Record<string, string>,
});

const exitSuccess = { doc: 'Exit codes meaning "answered": the output is read.', format: Array, check: checkExitCodes, expected: 'a list of whole numbers', default: [0] as unknown[] };

const FILLED = ' {medium} and {address} are replaced by the 3PID looked up.';

/** ma1sd's executable keys (command, args, env, output, exit); `filled` says where tokens are replaced. */
function executable(what: string, filled = '') {
  return {
    command: { doc: `Program run for ${what}: a path, run directly (never through a shell). Empty: not configured.`, format: String, default: '' },
    args: { doc: `Its arguments, one list item each, passed as they are (no shell quoting needed or applied).${filled}`, format: 'string-list', default: [] as string[] },
    env: {
      doc: `Environment variables given to it, besides PATH, HOME, LANG, LC_ALL, LC_CTYPE, TZ and TMPDIR (nothing else of unisd's environment is passed).${filled}`,
      format: Object, check: checkEnv, expected: 'a map of variable name to text', default: {} as Record<string, string>,
    },
    output: {
      type: { doc: 'How its standard output is read: json (ma1sd\'s JSON) or plain (lines).', format: ['json', 'plain'], default: 'json' },
    },
    exit: {
      success: exitSuccess,
      failure: { doc: 'Exit codes meaning "nothing found" (the output is ignored). Any other code, or a signal, is a failure of the provider: logged, counted, skipped.', format: Array, check: checkExitCodes, expected: 'a list of whole numbers', default: [1] as unknown[] },
    },
  };
}

const inputType = (defaultType: '' | 'json') => ({
  doc: 'What it gets on standard input: json (ma1sd\'s JSON), plain (ma1sd\'s lines), or nothing (empty).', format: ['', 'json', 'plain'], expected: 'one of "" (nothing), json, plain', default: defaultType as string,
});

const ignored = (feature: string) => ({
  doc: `ma1sd's ${feature}: unisd does not serve it; accepted so ma1sd configurations load, and ignored (a warning says so at start).`,
  format: Object, default: {} as Record<string, unknown>,
});

export const execSection = {
  enabled: { doc: 'Identity provider running external programs (ma1sd\'s exec store) for lookups.', format: 'boolean', default: false },
  timeout: { doc: 'Longest run of a lookup program, and longest silence of the listing program while it is read; the program and what it started are killed then.', format: 'duration', default: parseDuration('10s') },
  maxOutputBytes: { doc: 'Largest output read from a lookup program (larger: killed, the lookup fails), and largest line or item of the listing program.', format: 'nat', default: 1_048_576 },
  token: tokens('for every program'),
  identity: {
    enabled: { doc: 'With exec.enabled, serve lookups from the programs below (ma1sd\'s switch of the identity part).', format: 'boolean', default: true },
    priority: { doc: 'Order among identity providers: lower is asked first (1 or more; unlike ma1sd, where a higher priority went first).', format: 'nat', default: 20 },
    hashEnabled: { doc: 'Let hash lookup read every mapping from exec.identity.lookup.all (or, without it, from the bulk program run with no input, as ma1sd did).', format: 'boolean', default: false },
    hashLookup: { doc: 'The key ma1sd read for exec.identity.hashEnabled; either turns hashing on.', format: 'boolean', default: false },
    lookup: {
      single: {
        ...executable('one lookup', FILLED),
        token: tokens('for this program (over exec.token)'),
        input: {
          type: inputType(''),
          template: { doc: 'Input text, where {medium} and {address} are replaced by the 3PID looked up (JSON-escaped for json); empty: the default of input.type.', format: String, default: '' },
        },
      },
      bulk: { ...executable('a bulk lookup (the 3PIDs on standard input)'), input: { type: inputType('json') } },
      all: {
        ...executable('hash lookup: it lists every mapping, streamed (ma1sd\'s bulk answer, or one item per line)'),
        // Any other exit fails the listing: a program failing half-way must not pass for a short directory.
        exit: { success: { ...exitSuccess, doc: 'Exit codes meaning "listed everything"; any other code, or a signal, fails the listing.' } },
      },
    },
  },
  auth: ignored('authentication feature'),
  directory: ignored('user directory feature'),
  profile: ignored('profile feature'),
} satisfies ConfigSection;
