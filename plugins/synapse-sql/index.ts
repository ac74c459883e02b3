/** The `synapseSql` identity provider: the 3PIDs of a Synapse homeserver's database (ma1sd's `synapseSql` section). */
import fp from 'fastify-plugin';
import { synapseSqlProvider } from './provider.js';

export default fp(async (app) => {
  const { synapseSql, matrix, providers } = app.config;
  app.providers.register(await synapseSqlProvider(synapseSql, { domain: matrix.domain, timeout: providers.timeout, log: app.log }));
}, { name: 'unisd-synapse-sql', dependencies: ['unisd-context'] });
