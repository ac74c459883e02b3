/**
 * 3PID validation: the validate/* and 3pid/getValidated3pid routes, `app.validation` for binds,
 * and the job that purges expired sessions every validation.purgeInterval.
 */
import type { FastifyInstance } from 'fastify';
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

export default async function validationPlugin(app: FastifyInstance): Promise<void> {
  const { validation: settings, sms } = app.config;
  const service = new ValidationService({
    sessions: app.store.sessions,
    mailer: app.mailer,
    sms: app.sms,
    settings,
    smsTemplate: sms.template,
    apiUrl: publicApiUrl(app.config),
    metrics: app.metrics,
    limitStore: app.limitStore,
  });
  app.decorate('validation', service);
  app.identityApi.add(...validationRoutes(service, new ValidationPages(settings.successTemplate)));

  runEvery(app, 'purging expired validation sessions', settings.purgeInterval, () => service.purgeExpired(), { lease: 'purge:sessions' });
  runEvery(app, 'forgetting refilled validation limits', settings.purgeInterval, () => service.sweepLimits());
}
