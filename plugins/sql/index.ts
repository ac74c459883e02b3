/** The `sql` identity provider: an SQL database read with the operator's queries (ma1sd's `sql` section). */
import type { FastifyInstance } from 'fastify';
import { sqlProvider } from './provider.js';

export default async function sqlPlugin(app: FastifyInstance): Promise<void> {
  const { sql, matrix, providers } = app.config;
  app.providers.register(await sqlProvider({ key: 'sql', config: sql }, { domain: matrix.domain, timeout: providers.timeout, log: app.log }));
}
