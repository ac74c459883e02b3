/** One admin request line in, one answer line out: what the socket serves, and what the CLI runs itself when no server does. */
import type { FastifyBaseLogger } from 'fastify';
import { AdminInputError, parseRequest } from './protocol.js';
import type { AdminResult, AdminService } from './service.js';

export type AdminAnswer = { ok: true; result: AdminResult } | { ok: false; error: string };

/** Runs a request; a bad request or a refusal is an answer (`ok: false`), never a rejection. */
export async function answer(service: AdminService, request: unknown, log: FastifyBaseLogger): Promise<AdminAnswer> {
  try {
    const parsed = parseRequest(request);
    log.info({ command: parsed.command }, 'admin command');
    return { ok: true, result: await service.run(parsed) };
  } catch (err) {
    if (err instanceof AdminInputError) return { ok: false, error: err.message };
    log.error({ err: (err as Error)?.message }, 'admin command failed');
    return { ok: false, error: `failed: ${String((err as Error)?.message ?? err).split('\n')[0]}` };
  }
}

/** answer() for a JSON line. */
export async function answerLine(service: AdminService, line: string, log: FastifyBaseLogger): Promise<string> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return JSON.stringify({ ok: false, error: 'the request is not JSON' } satisfies AdminAnswer);
  }
  return JSON.stringify(await answer(service, request, log));
}
