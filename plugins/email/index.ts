/** Email: `app.mailer` renders the RFC 822 templates and sends them over SMTP (email.*). */
import type { FastifyInstance } from 'fastify';
import { loadTemplates } from './templates.js';
import { SmtpMailer } from './service.js';
import type { Mailer } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    mailer: Mailer;
  }
}

export default async function emailPlugin(app: FastifyInstance): Promise<void> {
  const { email } = app.config;
  const mailer = new SmtpMailer(email.smtp, loadTemplates(email.templates), email.from, app.log.child({ plugin: 'email' }));
  app.decorate('mailer', mailer);
  app.addHook('onClose', async () => mailer.close());
}
