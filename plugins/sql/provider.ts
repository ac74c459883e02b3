/**
 * Builds an SQL engine provider from its loaded config section (`sql`, or `synapseSql` with
 * Synapse's queries given by its plugin). Settings the schema cannot check are checked here and
 * refused with one line naming the key.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/types.js';
import type { IdentityProvider } from '../../core/providers/provider.js';
import { createDriver, dialectOf } from './driver.js';
import { countPlaceholders } from './placeholders.js';
import { SQL_MEDIA, sqlEngine, type SqlEngineOptions, type SqlMedium } from './engine.js';

export type SqlSectionConfig = Config['sql'];

/** ma1sd's SQL providers answered at priority 20. */
export const SQL_PRIORITY = 20;

export interface SqlProviderContext {
  /** matrix.domain */
  domain: string;
  /** providers.timeout: connecting and each statement. */
  timeout: number;
  log: FastifyBaseLogger;
}

export interface SqlProviderSpec {
  /** The config section's name, for errors and the provider's name. */
  key: string;
  config: SqlSectionConfig;
  /** A built-in bulk query (synapseSql), used while the identity queries are the built-in ones. */
  bulkQuery?: SqlEngineOptions['bulkQuery'];
}

const configError = (key: string, text: string) => new Error(`config error: ${key}: ${text}`);

/** The identity query of each medium served (none when identity is off), with its placeholders checked. */
export function identityQueries({ key, config }: SqlProviderSpec): Partial<Record<SqlMedium, string>> {
  if (!config.identity.enabled) return {};
  const queries: Partial<Record<SqlMedium, string>> = {};
  for (const medium of SQL_MEDIA) {
    const own = config.identity.medium[medium];
    const sql = own ?? config.identity.query;
    const where = own ? `${key}.identity.medium.${medium}` : `${key}.identity.query`;
    if (sql.trim() === '') throw configError(where, 'expected a query (or identity.enabled: false)');
    const params = countPlaceholders(sql, dialectOf(config.type));
    if (params !== 1 && params !== 2) throw configError(where, `expected a query with ? for the address, or ?, ? for medium and address; it has ${params} parameters`);
    queries[medium] = sql;
  }
  return queries;
}

export async function sqlProvider(spec: SqlProviderSpec, context: SqlProviderContext): Promise<IdentityProvider> {
  const { key, config } = spec;
  if (config.connection.trim() === '') {
    throw configError(`${key}.connection`, 'expected a connection string (postgresql://…, mysql://…) or, for sqlite, a file path');
  }
  if (config.pool.size < 1) throw configError(`${key}.pool.size`, 'expected 1 or more connections');
  if (config.identity.type !== 'mxid' && config.identity.enabled && !context.domain) {
    throw configError(`${key}.identity.type`, `${config.identity.type} needs matrix.domain to build Matrix IDs`);
  }
  const mappingsQuery = config.lookup.query.trim();
  if (mappingsQuery && countPlaceholders(mappingsQuery, dialectOf(config.type)) > 0) {
    throw configError(`${key}.lookup.query`, 'expected a query without parameters (?)');
  }
  const queries = identityQueries(spec);
  let driver;
  try {
    driver = await createDriver({
      type: config.type, connection: config.connection, poolSize: config.pool.size, idleTimeout: config.pool.idleTimeout, timeout: context.timeout,
    });
  } catch (err) {
    // A malformed URL: the message would quote it, password included.
    throw configError(`${key}.connection`, `expected a ${config.type} connection string (${(err as Error).name})`);
  }
  return sqlEngine({
    name: key,
    priority: SQL_PRIORITY,
    driver,
    identityQueries: queries,
    identityType: config.identity.type,
    domain: context.domain,
    bulkQuery: spec.bulkQuery,
    mappingsQuery: mappingsQuery || undefined,
    log: context.log,
  });
}
