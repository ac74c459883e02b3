/**
 * `Authorization: X-Matrix …` (server-server spec, Request Authentication) as homeservers send it
 * to identity servers: the signed object is {method, uri, origin, destination_is, content}, with
 * `destination_is` equal to this server's name (what Synapse signs, see clients.md). Requests
 * signed with `destination` instead, as the server-server spec has it, are accepted as well.
 * unisd signs its own server-to-server requests (MSC4004 pushes) with `destination`:
 * xMatrixAuthorization.
 */
import type { FastifyRequest } from 'fastify';
import type { XMatrix } from './types.js';
import { unauthorized } from '../errors.js';
import { signJson, verifyJsonSignature, type SigningKey } from '../crypto/signing.js';
import { isValidServerName } from './server-name.js';
import { requesterKey } from '../rate-limit.js';
import type { ServerKeys } from './server-keys.js';

export interface XMatrixParams {
  origin: string;
  key: string;
  sig: string;
  /** Absent from older servers' headers. */
  destination?: string;
}

const NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;
// Unquoted values: a token (RFC 9110), leniently anything up to whitespace or a comma, since
// older servers send colons (and base64's `/`) unquoted.
const BARE_VALUE = /^[^\s,"]+/;

/**
 * The parameters of an Authorization header of scheme `scheme` (`name=value` or
 * `name="quoted"`, comma-separated; names lower-cased); null when it is not one or is malformed.
 */
export function parseAuthParams(header: string, scheme: string): Map<string, string> | null {
  const space = /^[ \t]+/.exec(header.slice(scheme.length));
  if (header.slice(0, scheme.length).toLowerCase() !== scheme.toLowerCase() || !space) return null;
  const params = new Map<string, string>();
  let rest = header.slice(scheme.length + space[0].length);
  for (;;) {
    rest = rest.replace(/^[ \t]+/, '');
    const name = NAME.exec(rest);
    if (!name) return null;
    rest = rest.slice(name[0].length);
    const equals = /^[ \t]*=[ \t]*/.exec(rest);
    if (!equals) return null;
    rest = rest.slice(equals[0].length);
    let value: string;
    if (rest.startsWith('"')) {
      const quoted = readQuoted(rest);
      if (!quoted) return null;
      [value, rest] = quoted;
    } else {
      const bare = BARE_VALUE.exec(rest);
      if (!bare) return null;
      value = bare[0];
      rest = rest.slice(value.length);
    }
    const key = name[0].toLowerCase();
    if (params.has(key)) return null; // a repeated parameter is ambiguous
    params.set(key, value);
    rest = rest.replace(/^[ \t]+/, '');
    if (rest === '') return params;
    if (!rest.startsWith(',')) return null;
    rest = rest.slice(1);
  }
}

/** The parameters of an X-Matrix Authorization header; null when it is not one or is malformed. */
export function parseXMatrix(header: string): XMatrixParams | null {
  const params = parseAuthParams(header, 'X-Matrix');
  if (!params) return null;
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin || !key || !sig) return null;
  const destination = params.get('destination');
  return { origin, key, sig, ...(destination !== undefined ? { destination } : {}) };
}

/** A quoted-string at the start of `text`, unescaped, and what follows it; null when it is not closed. */
function readQuoted(text: string): [string, string] | null {
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (char === '"') return [value, text.slice(i + 1)];
    if (char === '\\') {
      i++;
      if (i === text.length) return null;
      value += text[i];
    } else {
      value += char;
    }
  }
  return null;
}

/** Where a verifier gets an origin's public key (homeservers: ServerKeys; MSC4004 members: their pubkey route). */
export type PublicKeySource = Pick<ServerKeys, 'publicKey'>;

export class XMatrixVerifier implements XMatrix {
  constructor(private readonly keys: PublicKeySource, private readonly serverName: string) {}

  async verify(request: FastifyRequest): Promise<string> {
    const header = request.headers.authorization;
    const params = typeof header === 'string' ? parseXMatrix(header) : null;
    if (!params) throw unauthorized('Missing or malformed X-Matrix Authorization header');
    if (params.destination !== undefined && params.destination !== this.serverName) {
      throw unauthorized(`The request is signed for ${params.destination}, not for this server (${this.serverName})`);
    }
    if (!isValidServerName(params.origin)) throw unauthorized('The X-Matrix origin is not a valid server name');
    if (!params.key.startsWith('ed25519:')) throw unauthorized('Unsupported X-Matrix key algorithm');
    const publicKey = await this.keys.publicKey(params.origin, params.key, requesterKey(request.ip));

    const { origin, key, sig } = params;
    const signed: Record<string, unknown> = {
      method: request.method,
      uri: request.raw.url, // the path and query exactly as received: that is what was signed
      origin,
      ...(request.body !== undefined ? { content: request.body } : {}),
      signatures: { [origin]: { [key]: sig } },
    };
    for (const destinationField of ['destination_is', 'destination']) {
      try {
        if (verifyJsonSignature({ ...signed, [destinationField]: this.serverName }, origin, key, publicKey)) return origin;
      } catch {
        break; // content that canonical JSON cannot encode (floats) was never validly signed
      }
    }
    throw unauthorized('Invalid X-Matrix signature');
  }
}

export interface OutgoingRequest {
  method: string;
  /** Path and query exactly as sent. */
  uri: string;
  /** The receiving server's name. */
  destination: string;
  /** The JSON body, when there is one. */
  content?: unknown;
}

/**
 * The `Authorization` header value for a request this server sends, signed as the
 * server-server spec has it: canonical JSON of {method, uri, origin, destination, content}.
 */
export function xMatrixAuthorization(request: OutgoingRequest, origin: string, key: SigningKey): string {
  const { method, uri, destination, content } = request;
  const signed = signJson({ method, uri, origin, destination, ...(content !== undefined ? { content } : {}) }, origin, key);
  const sig = signed.signatures[origin]![key.keyId]!;
  return `X-Matrix origin="${origin}",destination="${destination}",key="${key.keyId}",sig="${sig}"`;
}
