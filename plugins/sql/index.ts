/** The `sql` identity provider: an SQL database read with the operator's queries (ma1sd's `sql` section). */
import fp from 'fastify-plugin';
import { sqlProvider } from './provider.js';

export default fp(async (app) => {
  const { sql, matrix, providers } = app.config;
  app.providers.register(await sqlProvider({ key: 'sql', config: sql }, { domain: matrix.domain, timeout: providers.timeout, log: app.log }));
}, { name: 'unisd-sql', dependencies: ['unisd-context'] });
