/**
 * The SQL identity provider engine, shared by `sql` (the operator's queries) and `synapseSql`
 * (Synapse's schema built in): single lookups through a per-medium query, bulk lookups through
 * one query per medium and batch where a bulk query is known, and the hash source streamed
 * through a cursor. Values are only ever bound as parameters. What the database holds is
 * normalised like unisd's own 3PIDs; rows it cannot read are skipped and counted, never logged.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { IdentityProvider, Mapping } from '../../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../../core/providers/provider.js';
import { threepidKey } from '../../core/providers/registry.js';
import type { ThreePid } from '../../core/store/port.js';
import { normaliseEmail, normaliseMsisdn } from '../../core/threepid.js';
import { userIdServerName } from '../../core/federation/server-name.js';
import { countPlaceholders } from './placeholders.js';
import type { Row, SqlDriver } from './driver.js';

export const SQL_MEDIA = ['email', 'msisdn'] as const;
export type SqlMedium = typeof SQL_MEDIA[number];

/** How a returned user id becomes a Matrix ID: as is (`mxid`), or a localpart on matrix.domain (`localpart`, ma1sd also read `uid`). */
export type IdentityType = 'mxid' | 'localpart' | 'uid';

/** Most addresses bound in one bulk statement (well below every database's parameter limit). */
export const BULK_BATCH_SIZE = 500;

export interface SqlEngineOptions {
  name: string;
  priority: number;
  driver: SqlDriver;
  /**
   * The single-lookup query of each medium served, ma1sd's convention: `?, ?` bound to medium
   * and address, or one `?` bound to the address. Returns the user id as its `uid` (or `mxid`,
   * or first) column. No entry: the medium is not served.
   */
  identityQueries: Partial<Record<SqlMedium, string>>;
  identityType: IdentityType;
  /** matrix.domain, for localparts. */
  domain: string;
  /** A query for `count` addresses of one medium (`?` medium, then `count` `?`), returning mxid, medium, address. */
  bulkQuery?: (count: number) => string;
  /** The hash source: a query returning mxid, medium, address. Absent: not a hash source. */
  mappingsQuery?: string;
  log: FastifyBaseLogger;
}

/** A column by name, whatever case the database gave it (MySQL keeps `AS MXID` as written). */
function column(row: Row, name: string): unknown {
  if (name in row) return row[name];
  const key = Object.keys(row).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : row[key];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

export function sqlEngine(options: SqlEngineOptions): IdentityProvider {
  const { name, driver, identityType, domain, bulkQuery, mappingsQuery, log } = options;
  const queries = new Map(Object.entries(options.identityQueries).map(([medium, sql]) => [medium, { sql, params: countPlaceholders(sql, driver.dialect) }]));

  const toMxid = (value: unknown): string | null => {
    const id = text(value)?.trim();
    if (!id) return null;
    const mxid = id.startsWith('@') || identityType === 'mxid' ? id : `@${id}:${domain}`;
    return userIdServerName(mxid) === null ? null : mxid;
  };

  const toMapping = (row: Row): Mapping | null => {
    const medium = text(column(row, 'medium'))?.trim().toLowerCase();
    const raw = text(column(row, 'address'));
    if (raw === undefined || (medium !== 'email' && medium !== 'msisdn')) return null;
    const address = medium === 'email' ? normaliseEmail(raw) : normaliseMsisdn(raw);
    const mxid = toMxid(column(row, 'mxid'));
    return address && mxid ? { medium, address, mxid } : null;
  };

  const lookup = async (threepid: ThreePid, signal: AbortSignal): Promise<string | null> => {
    const query = queries.get(threepid.medium);
    if (!query) return null;
    const rows = await driver.query(query.sql, query.params === 1 ? [threepid.address] : [threepid.medium, threepid.address], signal);
    if (rows.length === 0) return null;
    const row = rows[0];
    const mxid = toMxid(column(row, 'uid') ?? column(row, 'mxid') ?? Object.values(row)[0]);
    if (!mxid) throw new Error(`${name}: the identity query answered a user id that is not a Matrix ID (is ${name}.identity.type right?)`);
    return mxid;
  };

  const bulkLookup = async (threepids: ThreePid[], signal: AbortSignal): Promise<Mapping[]> => {
    const found: Mapping[] = [];
    if (!bulkQuery) {
      for (const threepid of threepids) {
        const mxid = await lookup(threepid, signal);
        if (mxid) found.push({ medium: threepid.medium, address: threepid.address, mxid });
      }
      return found;
    }
    const asked = new Set(threepids.map(threepidKey));
    for (const medium of queries.keys()) {
      const addresses = [...new Set(threepids.filter((t) => t.medium === medium).map((t) => t.address))];
      for (let i = 0; i < addresses.length; i += BULK_BATCH_SIZE) {
        const batch = addresses.slice(i, i + BULK_BATCH_SIZE);
        for (const row of await driver.query(bulkQuery(batch.length), [medium, ...batch], signal)) {
          const mapping = toMapping(row);
          if (mapping && asked.has(threepidKey(mapping))) found.push(mapping);
        }
      }
    }
    return found;
  };

  return {
    name,
    priority: options.priority,
    capabilities: { media: [...queries.keys()], bulk: bulkQuery !== undefined, hashSource: mappingsQuery !== undefined },
    lookup,
    bulkLookup,
    ...(mappingsQuery !== undefined ? {
      mappings: async function* (signal: AbortSignal) {
        let skipped = 0;
        for await (const rows of driver.stream(mappingsQuery, MAPPING_BATCH_SIZE, signal)) {
          const batch: Mapping[] = [];
          for (const row of rows) {
            const mapping = toMapping(row);
            if (mapping) batch.push(mapping);
            else skipped++;
          }
          if (batch.length > 0) yield batch;
        }
        if (skipped > 0) log.warn({ provider: name, skipped }, 'hash source: rows skipped (unknown medium, or not an address or a Matrix ID)');
      },
    } : {}),
    close: () => driver.close(),
  };
}
