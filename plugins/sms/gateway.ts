/** What the HTTP connectors share: one bounded request to the gateway, and the error a failed send answers. */
import type { FastifyBaseLogger } from 'fastify';
import { badRequest } from '../../core/errors.js';

/** A code is sent while the client waits for the answer. */
export const GATEWAY_TIMEOUT_MS = 10_000;

/** 400, as the spec lists M_SEND_ERROR for msisdn requestToken. */
export const sendError = () => badRequest('M_SEND_ERROR', 'The SMS could not be sent');

/** Calls the gateway; an unreachable or silent one is M_SEND_ERROR (logged by error name: no number, no text). */
export async function callGateway(url: string, init: RequestInit, log: FastifyBaseLogger): Promise<Response> {
  try {
    return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS) });
  } catch (err) {
    log.error({ error: (err as Error).name }, 'the SMS gateway could not be reached');
    throw sendError();
  }
}

/** The answer's JSON body, or null when it has none or another kind. */
export const jsonBody = (response: Response): Promise<unknown> => response.json().catch(() => null);

export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
