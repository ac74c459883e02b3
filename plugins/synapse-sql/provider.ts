/**
 * The `synapseSql` provider: the SQL engine (plugins/sql) on a Synapse database. While the
 * identity queries are the built-in ones, bulk lookups are one query per medium and batch over
 * the same tables; an operator's own identity query turns them back into single lookups, so a
 * bulk answer never differs from a single one.
 */
import type { IdentityProvider } from '../../core/providers/provider.js';
import { sqlProvider, type SqlProviderContext, type SqlSectionConfig } from '../sql/provider.js';
import { SYNAPSE_IDENTITY_QUERY } from './config.js';

/** The 3PIDs among `count` addresses of one medium held by users who are not deactivated. */
export const synapseBulkQuery = (count: number): string =>
  'SELECT t.user_id AS mxid, t.medium, t.address FROM user_threepids t JOIN users u ON u.name = t.user_id'
  + ` WHERE u.deactivated = 0 AND t.medium = ? AND t.address IN (${Array(count).fill('?').join(', ')})`;

export async function synapseSqlProvider(config: SqlSectionConfig, context: SqlProviderContext): Promise<IdentityProvider> {
  if (config.type !== 'postgresql' && config.type !== 'sqlite') {
    throw new Error(`config error: synapseSql.type: expected postgresql or sqlite (the databases Synapse runs on), got "${config.type}"`);
  }
  const builtIn = config.identity.query === SYNAPSE_IDENTITY_QUERY && Object.keys(config.identity.medium).length === 0;
  return sqlProvider({ key: 'synapseSql', config, bulkQuery: builtIn ? synapseBulkQuery : undefined }, context);
}
