/** The rest identity provider plugin: builds the provider from `rest` and registers it. */
import type { FastifyInstance } from 'fastify';
import { RestProvider } from './provider.js';

/** An endpoint as ma1sd read it: a path is appended to rest.host, anything else is a whole URL; empty stays off. */
function endpointUrl(key: string, value: string, host: string): string {
  if (value === '') return '';
  const url = value.startsWith('/') ? `${host.replace(/\/+$/, '')}${value}` : value;
  if (value.startsWith('/') && host === '') throw new Error(`config error: rest.host: expected the backend's base URL (http:// or https://), needed by ${key}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`config error: ${value.startsWith('/') ? 'rest.host' : key}: expected an http:// or https:// URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`config error: ${value.startsWith('/') ? 'rest.host' : key}: expected an http:// or https:// URL`);
  return url;
}

export default async function restProviderPlugin(app: FastifyInstance): Promise<void> {
  const { rest, matrix } = app.config;
  const { single, bulk, all } = rest.endpoints.identity;
  const endpoints = {
    single: endpointUrl('rest.endpoints.identity.single', single, rest.host),
    bulk: endpointUrl('rest.endpoints.identity.bulk', bulk, rest.host),
    all: rest.hashEnabled ? endpointUrl('rest.endpoints.identity.all', all, rest.host) : '',
  };
  if (endpoints.single === '' && endpoints.bulk === '') {
    throw new Error('config error: rest.endpoints.identity: expected a single or bulk endpoint (both are empty)');
  }
  if (rest.hashEnabled && endpoints.all === '') throw new Error('config error: rest.endpoints.identity.all: expected the listing endpoint, needed by rest.hashEnabled');
  if (rest.timeout === 0) throw new Error('config error: rest.timeout: expected a duration above 0');
  if (rest.maxResponseBytes === 0) throw new Error('config error: rest.maxResponseBytes: expected a number of bytes above 0');
  if (rest.pageSize < 1 || rest.pageSize > 1000) throw new Error('config error: rest.pageSize: expected 1 to 1000');
  app.providers.register(new RestProvider({
    endpoints,
    domain: matrix.domain,
    hashEnabled: rest.hashEnabled,
    pageSize: rest.pageSize,
    timeout: rest.timeout,
    maxResponseBytes: rest.maxResponseBytes,
    bearerToken: rest.bearerToken,
  }));
}
