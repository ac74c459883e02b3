/**
 * Request logs carry method, path and status, never the query string (it holds access
 * tokens, client secrets and addresses) nor any header value.
 */
import type { FastifyServerOptions } from 'fastify';

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    serializers: {
      req: (request: { method: string; url: string; ip?: string }) => ({ method: request.method, path: request.url.split('?')[0] }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
    },
    redact: { paths: ['req.headers.authorization', 'token', 'access_token', 'address', 'client_secret'], remove: true },
  };
}
