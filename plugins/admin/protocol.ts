/**
 * The admin requests, as the CLI builds them from its arguments and as the admin socket receives
 * them (one JSON line each way). `parseRequest` checks and normalises one on both sides: the
 * socket is a boundary too, so the server never trusts what the CLI already checked.
 */
import type { ThreePid } from '../../core/store/port.js';
import { normaliseEmail, normaliseMsisdn } from '../../core/threepid.js';
import { userIdServerName } from '../../core/federation/server-name.js';

/** Largest list a listing command answers (`--limit`). */
export const MAX_LIMIT = 10_000;
export const DEFAULT_LIMIT = 100;

export type AdminRequest =
  | { command: 'lookup'; threepid: ThreePid }
  | { command: 'binds'; mxid: string }
  | { command: 'unbind'; threepid: ThreePid }
  | { command: 'tokens'; mxid: string }
  | { command: 'tokens revoke'; token: string }
  | { command: 'tokens revoke'; mxid: string }
  | { command: 'onbind list'; limit: number }
  | { command: 'onbind retry'; id: string }
  | { command: 'onbind drop'; id: string }
  | { command: 'invites list'; threepid?: ThreePid; sender?: string; limit: number }
  | { command: 'invites drop'; token: string }
  | { command: 'erase'; mxid: string }
  | { command: 'erase'; threepid: ThreePid };

export type AdminCommandName = AdminRequest['command'];

/** What is wrong with a request, in one line for the operator (never a stack). */
export class AdminInputError extends Error {}

const fail = (message: string): never => { throw new AdminInputError(message); };

/** A Matrix user ID (`@user:server`), as given. */
export function checkMxid(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('@') || userIdServerName(value) === null || value.length > 255) {
    fail(`${JSON.stringify(value)} is not a Matrix user ID (expected @user:server)`);
  }
  return value as string;
}

/** A 3PID in the form the store holds it (core/threepid.ts): the CLI takes addresses as people write them. */
export function checkThreepid(medium: unknown, address: unknown): ThreePid {
  if (typeof address !== 'string' || address.length === 0 || address.length > 512) fail('an address is required');
  const text = address as string;
  if (medium === 'email') return { medium, address: normaliseEmail(text) ?? fail(`${JSON.stringify(text)} is not an email address`) };
  if (medium === 'msisdn') return { medium, address: normaliseMsisdn(text) ?? fail(`${JSON.stringify(text)} is not a phone number (international format: +44 7700 900001, or its digits)`) };
  return fail(`unknown medium ${JSON.stringify(medium)} (expected email or msisdn)`);
}

/** An opaque identifier (onbind id, invite token, token id): printable, bounded. */
function checkId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(value)) fail(`${what} is required (as listed by the list command)`);
  return value as string;
}

function checkLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_LIMIT;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) fail(`--limit must be a number from 1 to ${MAX_LIMIT}`);
  return value as number;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const threepidOf = (value: unknown): ThreePid => (isObject(value) ? checkThreepid(value.medium, value.address) : fail('a 3PID (medium and address) is required'));

/** Checks a request (from the CLI's arguments or the socket) and returns it normalised. */
export function parseRequest(value: unknown): AdminRequest {
  if (!isObject(value)) return fail('the request is not a JSON object');
  const { command } = value;
  switch (command) {
    case 'lookup':
    case 'unbind':
      return { command, threepid: threepidOf(value.threepid) };
    case 'binds':
    case 'tokens':
      return { command, mxid: checkMxid(value.mxid) };
    case 'tokens revoke':
      if (value.mxid !== undefined && value.token !== undefined) return fail('tokens revoke takes a token id or --mxid, not both');
      return value.mxid !== undefined ? { command, mxid: checkMxid(value.mxid) } : { command, token: checkId(value.token, 'a token id') };
    case 'onbind list':
      return { command, limit: checkLimit(value.limit) };
    case 'onbind retry':
    case 'onbind drop':
      return { command, id: checkId(value.id, 'a delivery id') };
    case 'invites list':
      return {
        command,
        ...(value.threepid !== undefined ? { threepid: threepidOf(value.threepid) } : {}),
        ...(value.sender !== undefined ? { sender: checkMxid(value.sender) } : {}),
        limit: checkLimit(value.limit),
      };
    case 'invites drop':
      return { command, token: checkId(value.token, 'an invite token') };
    case 'erase':
      if ((value.mxid === undefined) === (value.threepid === undefined)) return fail('erase takes --mxid @user:server or <medium> <address>');
      return value.mxid !== undefined ? { command, mxid: checkMxid(value.mxid) } : { command, threepid: threepidOf(value.threepid) };
    default:
      return fail(`unknown admin command ${JSON.stringify(command)}`);
  }
}
