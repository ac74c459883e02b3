/**
 * Mail templates: complete RFC 822 messages (headers, a blank line, the body; multipart
 * allowed) with placeholders. The rendered text is the raw message sent, nothing added.
 *
 * Placeholders (sydent-compatible): `%(name)s` is the value of `name`; `%(name_forhtml)s` the
 * value HTML-escaped (for HTML bodies and attributes); `%(name_forurl)s` the value
 * percent-encoded (for URL query parts); `%%` is a literal `%`. Unknown names render empty.
 * Line breaks in values are replaced by spaces, so no value can add a header or a MIME part;
 * a non-ASCII value in a non-address header is MIME-encoded (RFC 2047).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';
import { ConfigError } from '../../core/config/load.js';
import type { MailKind } from './types.js';

const PLACEHOLDER = /%\(([A-Za-z0-9_]+)\)s|%%/g;
/** Headers holding addresses: encoded words would break them, so they are left as written. */
const ADDRESS_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'reply-to', 'sender', 'return-path']);
const HEADER_START = /^[!-9;-~]+:/;
const MAX_LINE = 998;

/** The built-in templates ship in config/templates/ at the package root (dist/ is one level deeper). */
const BUILT_IN_DIR = new URL(import.meta.url.endsWith('.ts') ? '../../config/templates/' : '../../../config/templates/', import.meta.url);

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const oneLine = (text: string): string => text.replace(/\r\n|[\r\n\u2028\u2029]/g, ' ');

function valueOf(name: string, variables: Record<string, string>): string {
  if (Object.hasOwn(variables, name)) return oneLine(variables[name]);
  const variant = /^(.+)_(forhtml|forurl)$/.exec(name);
  if (variant && Object.hasOwn(variables, variant[1])) {
    const value = oneLine(variables[variant[1]]);
    return variant[2] === 'forhtml' ? escapeHtml(value) : encodeURIComponent(value);
  }
  return '';
}

/** Splits a message at its first blank line; null when there is none. */
function splitMessage(message: string): { head: string; body: string } | null {
  const match = /\r?\n\r?\n/.exec(message);
  if (!match) return null;
  return { head: message.slice(0, match.index), body: message.slice(match.index + match[0].length) };
}

/**
 * Non-ASCII header values (a room name in the Subject) become RFC 2047 encoded words, and
 * those or any field with a line over RFC 5322's 998 characters are folded.
 */
function encodeHeaders(head: string): string {
  const fields: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += `\r\n${line}`;
    else fields.push(line);
  }
  return fields.map((field) => {
    const colon = field.indexOf(':');
    const encode = /[^\x00-\x7f]/.test(field) && !ADDRESS_HEADERS.has(field.slice(0, colon).trim().toLowerCase());
    if (!encode && field.split('\r\n').every((line) => line.length <= MAX_LINE)) return field;
    const value = field.slice(colon + 1).replace(/\r\n[ \t]+/g, ' ').trim();
    return mimeFuncs.foldLines(`${field.slice(0, colon)}: ${encode ? mimeFuncs.encodeWords(value, 'Q', 52) : value}`, 76);
  }).join('\r\n');
}

/** The message of `template` with `variables`, CRLF line endings. */
export function renderTemplate(template: string, variables: Record<string, string>): string {
  const rendered = template.replace(PLACEHOLDER, (_match, name?: string) => (name === undefined ? '%' : valueOf(name, variables)));
  const parts = splitMessage(rendered)!;
  return `${encodeHeaders(parts.head)}\r\n\r\n${parts.body.replace(/\r?\n/g, '\r\n')}`;
}

/** Fails unless `text` starts with header fields followed by a blank line. */
export function checkTemplate(text: string): void {
  const parts = splitMessage(text);
  if (!parts) throw new Error('no blank line between headers and body');
  const lines = parts.head.split(/\r?\n/);
  const bad = lines.find((line, i) => !(HEADER_START.test(line) || (i > 0 && /^[ \t]/.test(line))));
  if (bad !== undefined) throw new Error(`"${bad.slice(0, 40)}" is not a header line`);
}

export type Templates = Record<MailKind, string>;

/** Reads each kind's template: the operator's file when configured, else the built-in one. */
export function loadTemplates(files: Record<MailKind, string>): Templates {
  const templates = {} as Templates;
  for (const kind of Object.keys(files) as MailKind[]) {
    const path = files[kind] || fileURLToPath(new URL(`${kind}.eml`, BUILT_IN_DIR));
    try {
      const text = readFileSync(path, 'utf8');
      checkTemplate(text);
      templates[kind] = text;
    } catch (err) {
      throw new ConfigError(`email.templates.${kind}: ${path} is not a usable RFC 822 template: ${(err as Error).message}`);
    }
  }
  return templates;
}
