/**
 * Server names and user ids (appendices: Server Name, User Identifiers).
 * `server_name = hostname [":" port]`, hostname an IPv4 literal, a bracketed IPv6 literal or a
 * DNS name of letters, digits, `-` and `.`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { invalidParam } from '../errors.js';

export interface ServerName {
  /** The hostname as written, IPv6 literals without their brackets. */
  host: string;
  /** 4 or 6 for an IP literal, 0 for a DNS name. */
  ipVersion: 0 | 4 | 6;
  /** The explicit port, or null. */
  port: number | null;
}

const SERVER_NAME = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([0-9A-Za-z.-]{1,255}))(?::([0-9]{1,5}))?$/;
const DOTTED_QUAD = /^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$/;

/** Parses a server name; null when it does not follow the grammar. */
export function parseServerName(name: string): ServerName | null {
  if (typeof name !== 'string') return null;
  const match = SERVER_NAME.exec(name);
  if (!match) return null;
  const [, ipv6, hostname, portText] = match;
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > 65535)) return null;
  if (ipv6 !== undefined) return isIPv6(ipv6) ? { host: ipv6, ipVersion: 6, port } : null;
  // A dotted quad is an IPv4 literal, whose numbers must be 0-255 (it is never a DNS name).
  if (DOTTED_QUAD.test(hostname)) return isIPv4(hostname) ? { host: hostname, ipVersion: 4, port } : null;
  return { host: hostname, ipVersion: 0, port };
}

export const isValidServerName = (name: string): boolean => parseServerName(name) !== null;

/** The host as it appears in a URL or a Host header: IPv6 literals in brackets. */
export const urlHost = (host: string): string => (isIPv6(host) ? `[${host}]` : host);

/** The reverse of urlHost: a URL's hostname with an IPv6 literal's brackets removed. */
export const bareHost = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * The server name of a user id, or null when it is not one. Localparts are accepted as the
 * spec's historical grammar allows (anything but `:` and NUL, not empty), since such users exist.
 */
export function userIdServerName(userId: unknown): string | null {
  if (typeof userId !== 'string' || userId.length > 255 || !userId.startsWith('@')) return null;
  const colon = userId.indexOf(':');
  if (colon < 2 || userId.slice(1, colon).includes('\0')) return null;
  const server = userId.slice(colon + 1);
  return isValidServerName(server) ? server : null;
}

/** The server name of `mxid`, a request parameter; 400 M_INVALID_PARAM when it is not a user id. */
export function requireUserId(mxid: string): string {
  const server = userIdServerName(mxid);
  if (server === null) throw invalidParam('mxid is not a valid Matrix user ID');
  return server;
}
