/**
 * Unknown path → 404 M_UNRECOGNIZED; known path with another method → 405 M_UNRECOGNIZED, as
 * the spec asks, with `Allow`. Fastify only knows "no route", so the patterns of every route are
 * kept and matched here.
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
  /** Methods every path answers (the CORS preflight's OPTIONS). */
  const everywhere = new Set<string>();
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    // Wildcard routes (CORS preflight) do not make a path "known", but their methods are allowed on it.
    if (route.url.includes('*')) for (const method of methods) everywhere.add(method);
    else routes.push({ methods, pattern: patternToRegExp(route.url) });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods));
    if (allowed.size > 0 && !allowed.has(request.method)) {
      // RFC 9110: a 405 says which methods the resource supports.
      return reply.code(405).header('allow', [...new Set([...allowed, ...everywhere])].join(', ')).type('application/json')
        .send({ errcode: 'M_UNRECOGNIZED', error: 'Unsupported method' });
    }
    return reply.code(404).type('application/json').send({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  });
}
