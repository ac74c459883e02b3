/** Terms plugin: GET/POST /terms and the gate v2 applies (`app.terms.requireAccepted`). */
import type { FastifyInstance } from 'fastify';
import { TermsService } from './service.js';

declare module 'fastify' {
  interface FastifyInstance {
    terms: TermsService;
  }
}

export default async function termsPlugin(app: FastifyInstance): Promise<void> {
  const terms = new TermsService(app.store.terms, app.config.policy.policies);
  app.decorate('terms', terms);
  app.identityApi.add(
    { method: 'GET', url: '/terms', apis: ['v2'], auth: 'none', handler: async () => terms.describe() },
    {
      method: 'POST', url: '/terms', apis: ['v2'], terms: false,
      schema: { body: { type: 'object', required: ['user_accepts'], properties: { user_accepts: { type: 'array', items: { type: 'string' } } } } },
      handler: async (request) => {
        await terms.accept(request.account!.userId, (request.body as { user_accepts: string[] }).user_accepts);
        return {};
      },
    },
  );
}
