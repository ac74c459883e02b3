/**
 * 3PID validation: the validate/* and 3pid/getValidated3pid routes, `app.validation` for binds,
 * and the job that purges expired sessions every validation.purgeInterval.
 */
import fp from 'fastify-plugin';
import { V1_PREFIX } from '../v1/index.js';
import { V2_PREFIX } from '../v2/index.js';
import { ValidationService } from './service.js';
import { ValidationPages } from './pages.js';
import { validationRoutes } from './routes.js';
import type { Validation } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    validation: Validation;
  }
}

export default fp(async (app) => {
  const { validation: settings, server, matrix, sms } = app.config;
  const service = new ValidationService({
    store: app.store,
    mailer: app.mailer,
    sms: app.sms,
    settings,
    smsTemplate: sms.template,
    // The link in the mail works whichever API is on: v2 when served, else v1.
    apiUrl: `${server.publicUrl.replace(/\/+$/, '')}${matrix.v2 ? V2_PREFIX : V1_PREFIX}`,
  });
  app.decorate('validation', service);
  app.identityApi.add(...validationRoutes(service, new ValidationPages(settings.successTemplate)));

  const purge = () => service.purgeExpired().catch((err) => app.log.error({ err }, 'purging expired validation sessions failed'));
  const purgeTimer = setInterval(purge, Math.max(settings.purgeInterval, 1000)); // a 0 interval would spin
  purgeTimer.unref();
  app.addHook('onClose', async () => clearInterval(purgeTimer));
}, { name: 'unisd-validation', dependencies: ['unisd-context', 'unisd-api', 'unisd-email', 'unisd-sms'] });
