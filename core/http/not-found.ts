/**
 * Unknown path → 404 M_UNRECOGNIZED; known path with another method → 405 M_UNRECOGNIZED, as
 * the spec asks. Fastify only knows "no route", so the patterns of every route are kept and
 * matched here.
 */
import type { FastifyInstance } from 'fastify';

function patternToRegExp(url: string): RegExp {
  const escaped = url.split('/').map((part) => {
    if (part.startsWith(':')) return '[^/]+';
    if (part === '*') return '.*';
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('/');
  return new RegExp(`^${escaped}/?$`);
}

export function installNotFound(app: FastifyInstance): void {
  const routes: Array<{ methods: string[]; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return; // wildcard routes (CORS preflight) do not make a path "known"
    const methods = ([] as string[]).concat(route.method);
    routes.push({ methods, pattern: patternToRegExp(route.url) });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const known = routes.some((route) => route.pattern.test(path) && !route.methods.includes(request.method));
    if (known) {
      return reply.code(405).type('application/json').send({ errcode: 'M_UNRECOGNIZED', error: 'Unsupported method' });
    }
    return reply.code(404).type('application/json').send({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  });
}
