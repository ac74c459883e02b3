/** The exec identity provider plugin: builds the provider from `exec` and registers it. */
import type { FastifyInstance } from 'fastify';
import { ExecProvider } from './provider.js';

export default async function execProviderPlugin(app: FastifyInstance): Promise<void> {
  const { exec, matrix } = app.config;
  const { single, bulk, all } = exec.identity.lookup;
  if (single.command === '' && bulk.command === '') {
    throw new Error('config error: exec: set exec.identity.lookup.single.command or exec.identity.lookup.bulk.command (the program answering lookups)');
  }
  if (exec.timeout === 0) throw new Error('config error: exec.timeout: expected a duration above 0');
  if (exec.maxOutputBytes === 0) throw new Error('config error: exec.maxOutputBytes: expected a number of bytes above 0');
  if (exec.identity.priority < 1) throw new Error('config error: exec.identity.priority: expected 1 or more (0 is reserved for the binds made here; lower is asked first)');
  const hashEnabled = exec.identity.hashEnabled || exec.identity.hashLookup;
  if (hashEnabled && all.command === '' && bulk.command === '') {
    throw new Error('config error: exec.identity.hashEnabled: set exec.identity.lookup.all.command (or .bulk.command) to the program listing every mapping');
  }
  for (const feature of ['auth', 'directory', 'profile'] as const) {
    if (Object.keys(exec[feature]).length > 0) app.log.warn(`exec.${feature} is ma1sd's ${feature} feature, which unisd does not serve: ignored`);
  }
  app.providers.register(new ExecProvider({
    single,
    bulk,
    all,
    token: exec.token,
    domain: matrix.domain,
    priority: exec.identity.priority,
    hashEnabled,
    timeout: exec.timeout,
    maxOutputBytes: exec.maxOutputBytes,
  }));
}
