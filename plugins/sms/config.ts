/**
 * Value checks of the `sms` config section's maps (run at load, so a bad value stops the start
 * in one line naming the key), and the parsers the connectors share with them.
 */
import { isPlainObject } from '../../core/config/formats.js';

export const SMS_CONNECTORS = ['twilio', 'openmarket', 'infobip', 'sns', 'http'] as const;
export type SmsConnectorName = typeof SMS_CONNECTORS[number];

/** OpenMarket's type of number (TON) for each originator type sydent's config names. */
export const ORIGINATOR_TON = { long: 1, short: 3, alpha: 5 } as const;

export interface Originator {
  ton: number;
  address: string;
}

export const ORIGINATORS_EXPECTED = 'a map of calling code (digits) or "default" to a comma-separated list of long:<number>, short:<number> or alpha:<text>';

/** One originators line as sydent writes it: `long:447700900000, alpha:Example`. */
export function parseOriginators(line: string): Originator[] {
  return line.split(',').map((item) => {
    const match = /^\s*(long|short|alpha):(.+?)\s*$/.exec(item);
    if (!match) throw new Error(`"${item.trim()}": expected long:<number>, short:<number> or alpha:<text>`);
    const [, type, address] = match as unknown as [string, keyof typeof ORIGINATOR_TON, string];
    return { ton: ORIGINATOR_TON[type], address };
  });
}

export function checkOriginators(value: unknown): void {
  if (!isPlainObject(value)) throw new Error(`expected ${ORIGINATORS_EXPECTED}`);
  for (const [code, line] of Object.entries(value)) {
    if (code !== 'default' && !/^\d{1,3}$/.test(code)) throw new Error(`${code}: expected a calling code (1 to 3 digits, such as 44) or default`);
    if (typeof line !== 'string') throw new Error(`${code}: expected text such as "long:447700900000, alpha:Example"`);
    try {
      parseOriginators(line);
    } catch (err) {
      throw new Error(`${code}: ${(err as Error).message}`);
    }
  }
}

export const STRING_MAP_EXPECTED = 'a map of header name to text';

export function checkStringMap(value: unknown): void {
  if (!isPlainObject(value)) throw new Error(`expected ${STRING_MAP_EXPECTED}`);
  for (const [name, text] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`${name}: expected a header name`);
    if (typeof text !== 'string' || /[\r\n\0]/.test(text)) throw new Error(`${name}: expected text on one line`);
  }
}

export const BODY_TEMPLATE_EXPECTED = 'a map whose values are text (holding {to}, {msisdn}, {text} or {secret}), numbers, booleans, lists or maps';

export function checkBodyTemplate(value: unknown): void {
  if (!isPlainObject(value)) throw new Error(`expected ${BODY_TEMPLATE_EXPECTED}`);
  const check = (item: unknown, path: string): void => {
    if (item === null || ['string', 'number', 'boolean'].includes(typeof item)) return;
    if (Array.isArray(item)) return item.forEach((element, i) => check(element, `${path}[${i}]`));
    if (isPlainObject(item)) return Object.entries(item).forEach(([key, element]) => check(element, `${path}.${key}`));
    throw new Error(`${path}: expected text, a number, a boolean, a list or a map`);
  };
  for (const [key, item] of Object.entries(value)) check(item, key);
}
