/** The `synapseSql` identity provider: the 3PIDs of a Synapse homeserver's database (ma1sd's `synapseSql` section). */
import type { FastifyInstance } from 'fastify';
import { synapseSqlProvider } from './provider.js';

export default async function synapseSqlPlugin(app: FastifyInstance): Promise<void> {
  const { synapseSql, matrix, providers } = app.config;
  app.providers.register(await synapseSqlProvider(synapseSql, { domain: matrix.domain, timeout: providers.timeout, log: app.log }));
}
