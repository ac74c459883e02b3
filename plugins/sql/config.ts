/**
 * The `sql` section, and the factory of every section served by the SQL engine (`synapseSql`
 * is the same section with Synapse's defaults). Key names are ma1sd's: its `sql`/`synapseSql`
 * snippets load unchanged, including the user directory, profile and authentication settings
 * unisd has no use for (accepted, unused).
 */
import { parseDuration } from '../../core/config/duration.js';
import { isPlainObject } from '../../core/config/formats.js';
import { SQL_TYPES, type SqlType } from './driver.js';
import { SQL_MEDIA, type IdentityType } from './engine.js';

const MEDIUM_QUERIES_EXPECTED = `a map of medium (${SQL_MEDIA.join(', ')}) to a query`;

function checkMediumQueries(value: unknown): void {
  if (!isPlainObject(value)) throw new Error(`expected ${MEDIUM_QUERIES_EXPECTED}`);
  for (const [medium, query] of Object.entries(value)) {
    if (!(SQL_MEDIA as readonly string[]).includes(medium)) throw new Error(`${medium}: unknown key, expected ${SQL_MEDIA.join(', ')}`);
    if (typeof query !== 'string' || query.trim() === '') throw new Error(`${medium}: expected a query`);
  }
}

/** A map of ma1sd settings unisd does not use. */
const ma1sdOnly = (what: string) => ({
  doc: `ma1sd's ${what} settings: accepted so ma1sd configurations load, not used by unisd.`,
  format: Object,
  check: (value: unknown) => { if (!isPlainObject(value)) throw new Error('expected a map'); },
  expected: 'a map',
  default: {} as Record<string, unknown>,
});

export interface SqlSectionDefaults {
  /** What the provider reads, for the `enabled` key's doc. */
  reads: string;
  identityQuery: string;
  lookupQuery: string;
}

export function sqlSection(defaults: SqlSectionDefaults) {
  return {
    enabled: { doc: `Identity provider reading ${defaults.reads}.`, format: 'boolean', default: false },
    type: { doc: 'Database kind: postgresql, mysql or mariadb, sqlite.', format: [...SQL_TYPES], default: 'sqlite' as SqlType },
    connection: {
      doc: 'postgresql://user:password@host:5432/db, mysql://user:password@host:3306/db, ma1sd\'s //host/db?user=…&password=…, or the SQLite file path.',
      format: String, default: '', sensitive: true,
    },
    pool: {
      size: { doc: 'Most connections open at once (1 or more; streaming the hash source holds one).', format: 'nat', default: 4 },
      idleTimeout: { doc: 'An idle connection is closed after this long.', format: 'duration', default: parseDuration('30s') },
    },
    identity: {
      enabled: { doc: 'Answer lookups; false leaves only the hash source (lookup.query).', format: 'boolean', default: true },
      type: { doc: 'What the identity query returns: mxid (a Matrix ID) or localpart (uid, as ma1sd read it) on matrix.domain.', format: ['mxid', 'localpart', 'uid'], default: 'mxid' as IdentityType },
      query: {
        doc: 'Single lookup: `?, ?` are bound to medium and address (ma1sd\'s convention; a single `?` to the address), returning the user id as column uid.',
        format: String, default: defaults.identityQuery,
      },
      medium: {
        doc: 'A dedicated identity query per medium (email, msisdn), used instead of identity.query.',
        format: Object, check: checkMediumQueries, expected: MEDIUM_QUERIES_EXPECTED, default: {} as Record<string, string>,
      },
    },
    lookup: {
      query: { doc: 'Hash source: a query returning mxid, medium, address for every 3PID; empty: not a hash source.', format: String, default: defaults.lookupQuery },
    },
    auth: ma1sdOnly('authentication'),
    directory: ma1sdOnly('user directory'),
    profile: ma1sdOnly('profile'),
  };
}

export const section = sqlSection({
  reads: 'an SQL database with the operator\'s queries',
  identityQuery: 'SELECT user_id AS uid FROM user_threepid_id_server WHERE medium = ? AND address = ?',
  lookupQuery: '',
});
