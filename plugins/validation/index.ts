/**
 * 3PID validation: the validate/* and 3pid/getValidated3pid routes, `app.validation` for binds,
 * and the job that purges expired sessions every validation.purgeInterval.
 */
import fp from 'fastify-plugin';
import { publicApiUrl } from '../../core/api.js';
import { runEvery } from '../../core/jobs.js';
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
  const { validation: settings, sms } = app.config;
  const service = new ValidationService({
    store: app.store,
    mailer: app.mailer,
    sms: app.sms,
    settings,
    smsTemplate: sms.template,
    apiUrl: publicApiUrl(app.config),
    metrics: app.metrics,
  });
  app.decorate('validation', service);
  app.identityApi.add(...validationRoutes(service, new ValidationPages(settings.successTemplate)));

  runEvery(app, 'purging expired validation sessions', settings.purgeInterval, () => service.purgeExpired());
}, { name: 'unisd-validation', dependencies: ['unisd-context', 'unisd-api', 'unisd-email', 'unisd-sms'] });
