/**
 * The value formats of the configuration, registered with convict, each with the phrase that
 * says what it expects (used in error messages and in docs/configuration.md).
 *
 * Coercion turns text (environment variables, quoted YAML) into the typed value and never
 * throws: text it cannot read is left as is, so validation reports it with the key's name.
 * convict's own coercions are replaced because they are lax: `parseInt('80x')` is 80 and any
 * text but "false" is true — `UNISD_MATRIX_V1=no` would turn v1 on.
 */
import convict from 'convict';
import { DURATION_EXPECTED, parseDuration } from './duration.js';
import { parseAddressRange } from '../federation/address-guard.js';

/** One leaf of the schema. `check` and `expected` are unisd's additions, ignored by convict. */
export interface ConfigKey<T = unknown> {
  doc: string;
  format: unknown;
  default: T;
  sensitive?: boolean;
  /**
   * Validation of a map value, run after convict: convict only leaves a map's own keys alone
   * when its format is `Object` (with a named format it walks into them as if they were schema
   * keys). Throws `<path inside the value>: expected …` or `expected …`.
   */
  check?: (value: unknown) => void;
  /** What a valid value looks like, when the format does not say it (format: Object). */
  expected?: string;
  /** Numbers inside the value are read from a YAML file as written (a version 1.0 stays "1.0"). */
  numbersAsWritten?: boolean;
  /** Turns the validated value into its loaded form (policy versions into text). */
  normalise?: (value: any) => unknown;
}

const FORMAT_EXPECTED: Record<string, string> = {
  string: 'text',
  array: 'a list',
  number: 'a number',
  regexp: 'a regular expression',
};

/** Registers a named format (plugins register theirs from their manifest module). */
export function addFormat(name: string, expected: string, isValid: (value: unknown) => boolean, coerce?: (text: string) => unknown): void {
  FORMAT_EXPECTED[name] = expected;
  convict.addFormat({
    name,
    validate(value: unknown) { if (!isValid(value)) throw new Error(`expected ${expected}`); },
    ...(coerce ? { coerce: (value: string) => coerce(value) } : {}),
  });
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const wholeNumber = (text: string): unknown => (/^\s*\d+\s*$/.test(text) ? Number(text) : text);

/** YAML 1.1 (ma1sd's) booleans are accepted too, as are 1/0 in environment variables. */
const BOOLEAN_WORDS: Record<string, boolean> = { true: true, yes: true, on: true, 1: true, false: false, no: false, off: false, 0: false };

// `boolean` is also the coercion convict applies to keys declared with `format: Boolean`.
addFormat('boolean', 'true or false', (v) => typeof v === 'boolean', (text) => BOOLEAN_WORDS[text.trim().toLowerCase()] ?? text);
addFormat('nat', 'a whole number (0 or more)', (v) => Number.isSafeInteger(v) && (v as number) >= 0, wholeNumber);
addFormat('int', 'a whole number', Number.isSafeInteger, (text) => (/^\s*-?\d+\s*$/.test(text) ? Number(text) : text));
addFormat('port', 'a port number (0-65535)', (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535, wholeNumber);
// Maps given as text (environment variables) are JSON; convict's own coercion throws on bad JSON.
export const tryJson = (text: string): unknown => {
  try { return JSON.parse(text); } catch { return text; }
};
addFormat('object', 'a map', isPlainObject, tryJson);

const tryDuration = (text: string): unknown => {
  try { return parseDuration(text); } catch { return text; }
};
addFormat('duration', DURATION_EXPECTED, (v) => typeof v === 'number', tryDuration);
/** A duration, or `never` (also 0) for "no limit": 0 milliseconds means never. */
addFormat('duration-or-never', `${DURATION_EXPECTED}, or "never"`, (v) => typeof v === 'number',
  (text) => (text.trim() === 'never' ? 0 : tryDuration(text)));

export const commaList = (text: string): string[] => text.split(',').map((item) => item.trim()).filter(Boolean);
addFormat('string-list', 'a list of strings (in an environment variable: comma-separated)',
  (v) => Array.isArray(v) && v.every((item) => typeof item === 'string'), commaList);

const isAddressList = (v: unknown): boolean => Array.isArray(v) && v.every((item) => typeof item === 'string' && parseAddressRange(item) !== null);

const ADDRESS_LIST_EXPECTED = 'a list of IP addresses or CIDR ranges such as "127.0.0.1" or "10.0.0.0/8"';
FORMAT_EXPECTED['address-list'] = ADDRESS_LIST_EXPECTED;
convict.addFormat({
  name: 'address-list',
  validate(value: unknown) {
    if (!Array.isArray(value)) throw new Error(`expected ${ADDRESS_LIST_EXPECTED}`);
    // Name the entry that is wrong: in a list of ten ranges, "got a list" does not say which.
    const bad = value.findIndex((item) => typeof item !== 'string' || parseAddressRange(item) === null);
    if (bad >= 0) throw new Error(`[${bad}]: expected an IP address or a CIDR range such as "10.0.0.0/8", got ${JSON.stringify(value[bad])}`);
  },
  coerce: commaList,
});

/**
 * The reverse proxies whose X-Forwarded-For is believed: their addresses, or false for none.
 * `true` (Fastify's "trust every hop") would take the left-most entry, which the client writes;
 * a hop count cannot check that the peer is a proxy at all (Fastify refuses it too).
 */
const TRUST_PROXY_EXPECTED = 'the addresses or CIDR ranges of the reverse proxies in front of unisd, such as ["127.0.0.1"], or false';
FORMAT_EXPECTED['trust-proxy'] = TRUST_PROXY_EXPECTED;
convict.addFormat({
  name: 'trust-proxy',
  validate(value: unknown) {
    if (value === true) throw new Error(`expected ${TRUST_PROXY_EXPECTED}: true would take the client's address from the left-most X-Forwarded-For entry, which the client writes`);
    if (value !== false && !isAddressList(value)) throw new Error(`expected ${TRUST_PROXY_EXPECTED}`);
  },
  coerce: (text: string) => {
    if (/^\s*\d+\s*$/.test(text)) return Number(text); // a hop count: refused with the expected form
    return BOOLEAN_WORDS[text.trim().toLowerCase()] ?? commaList(text);
  },
});

addFormat('http-url', 'an http(s) URL such as "https://id.example.org"',
  (v) => typeof v === 'string' && /^https?:\/\/[^/\s?#]+(\/\S*)?$/.test(v));

/** Matrix server name grammar: DNS name, IPv4 or [IPv6], optional port; no scheme, no path. */
addFormat('server-name', 'a server name such as "id.example.org" or "id.example.org:8443" (no https://, no path)',
  (v) => typeof v === 'string' && /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.test(v));

/** Throws `<where><key>: unknown key, expected …` for a key of `value` not in `allowed`. */
export function checkKeys(value: Record<string, unknown>, allowed: string[], where: string): void {
  const unknown = Object.keys(value).find((key) => !allowed.includes(key));
  if (unknown !== undefined) throw new Error(`${where}${unknown}: unknown key, expected ${allowed.join(', ')}`);
}

/** What a key's value must look like, in words. */
export function describeFormat(key: ConfigKey): string {
  if (key.expected) return key.expected;
  const { format } = key;
  if (Array.isArray(format)) return `one of ${format.join(', ')}`;
  if (typeof format === 'function') return FORMAT_EXPECTED[format.name.toLowerCase()] ?? format.name;
  if (typeof format === 'string') return FORMAT_EXPECTED[format] ?? format;
  return 'a value';
}
