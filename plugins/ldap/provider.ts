/**
 * The LDAP identity provider: finds the entry holding a 3PID in the configured attributes
 * (or the operator's query per medium) under each base DN, and turns its uid attribute into a
 * Matrix ID. Addresses read from the directory are normalised the unisd way and re-checked
 * against the one asked (the directory's matching rules are not unisd's); entries without a
 * usable uid or address are skipped and counted, never logged with their 3PID.
 */
import { SizeLimitExceededError, type Entry, type Filter } from 'ldapts';
import type { IdentityProvider, Mapping } from '../../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../../core/providers/provider.js';
import { threepidKey } from '../../core/providers/registry.js';
import type { Medium, ThreePid } from '../../core/store/port.js';
import { formatMsisdn, normaliseEmail, normaliseMsisdn } from '../../core/threepid.js';
import { anyEqual, anyPresent, fromTemplate, within } from './filters.js';
import type { LdapPool } from './pool.js';

export type LdapMedium = 'email' | 'msisdn';

export interface LdapProviderOptions {
  pool: LdapPool;
  baseDNs: string[];
  /** Identity searches must also match this (the operator's filter), or null. */
  filter: Filter | null;
  uid: { type: 'uid' | 'mxid'; attribute: string };
  /** matrix.domain, completing localparts (uid type `uid`). */
  domain: string;
  /** Attributes holding each medium's addresses; an empty list: the medium is not served unless it has a query. */
  attributes: Record<LdapMedium, string[]>;
  /** Operator's lookup query per medium, `token` standing for the address (replaces the attribute search). */
  queries: Partial<Record<LdapMedium, string>>;
  token: string;
  /** Feed hash lookup (ldap.lookup). */
  hashSource: boolean;
  /** Entries per page of the hash source's paged search. */
  pageSize: number;
}

/** 3PIDs per search of a bulk lookup: one OR filter, kept small enough for any server. */
export const BULK_CHUNK = 50;
/** Entries one lookup search may return; an address shared by more is a directory anomaly. */
const LOOKUP_SIZE_LIMIT = 50;

const SIZE_LIMIT_HELP = 'the LDAP server stopped the paged search at its size limit: lift the limit for ldap.connection.bindDn '
  + '(OpenLDAP: limits dn.exact="<bindDn>" size.prtotal=unlimited)';

/** The spec's historical user ID grammar: printable ASCII but `:`. */
const LOCALPART = /^[\x21-\x39\x3b-\x7e]+$/;
const SERVER_NAME = /^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/;

const NORMALISE: Record<LdapMedium, (text: string) => string | null> = { email: normaliseEmail, msisdn: normaliseMsisdn };

/**
 * The forms a normalised address is searched by: emails as they are (mail attributes match
 * without case), phone numbers as E.164 with and without `+` and in international format with
 * spaces (telephoneNumber matching ignores spaces and hyphens; Active Directory's does not).
 */
function searchForms(medium: LdapMedium, address: string): string[] {
  return medium === 'msisdn' ? [...new Set([`+${address}`, address, formatMsisdn(address)])] : [address];
}

export class LdapProvider implements IdentityProvider {
  readonly name = 'ldap';
  /** After the memory provider (10), as in ma1sd. */
  readonly priority = 20;
  readonly capabilities: IdentityProvider['capabilities'];
  /** Entries or values skipped since start: no usable uid, or an address that is not one (for metrics). */
  skipped = 0;
  private readonly media: LdapMedium[];
  private readonly readAttributes: string[];

  constructor(private readonly options: LdapProviderOptions) {
    this.media = (['email', 'msisdn'] as const).filter((m) => options.attributes[m].length > 0 || options.queries[m]);
    this.capabilities = { media: this.media, bulk: true, hashSource: options.hashSource };
    this.readAttributes = [options.uid.attribute, ...options.attributes.email, ...options.attributes.msisdn];
  }

  async lookup(threepid: ThreePid, signal: AbortSignal): Promise<string | null> {
    const [found] = await this.find([threepid], signal);
    return found?.mxid ?? null;
  }

  async bulkLookup(threepids: ThreePid[], signal: AbortSignal): Promise<Mapping[]> {
    const found: Mapping[] = [];
    for (const medium of this.media) {
      const mine = threepids.filter((t) => t.medium === medium);
      if (this.options.queries[medium]) {
        // An operator's query cannot say which of several addresses an entry matched: one search each.
        for (const t of mine) found.push(...await this.find([t], signal));
      } else {
        for (let i = 0; i < mine.length; i += BULK_CHUNK) found.push(...await this.find(mine.slice(i, i + BULK_CHUNK), signal));
      }
    }
    return found;
  }

  async *mappings(signal: AbortSignal): AsyncGenerator<Mapping[]> {
    const { attributes, pool, baseDNs, filter, pageSize } = this.options;
    const search = {
      scope: 'sub' as const,
      filter: within(filter, anyPresent([...attributes.email, ...attributes.msisdn])),
      attributes: this.readAttributes,
      paged: { pageSize },
    };
    const batch: Mapping[] = [];
    for (const baseDN of baseDNs) {
      try {
        for await (const entries of pool.pages(signal, baseDN, search)) {
          for (const entry of entries) batch.push(...this.entryMappings(entry));
          while (batch.length >= MAPPING_BATCH_SIZE) yield batch.splice(0, MAPPING_BATCH_SIZE);
        }
      } catch (err) {
        if (err instanceof SizeLimitExceededError) throw new Error(SIZE_LIMIT_HELP, { cause: err });
        throw err;
      }
    }
    if (batch.length > 0) yield batch;
  }

  async close(): Promise<void> {
    await this.options.pool.close();
  }

  /**
   * The mappings of `asked` (all of one medium), searching each base DN in order until all
   * are found. With an operator's query (one 3PID), its matches are trusted; otherwise an entry
   * answers for an address only if one of its values normalises to it.
   */
  private async find(asked: ThreePid[], signal: AbortSignal): Promise<Mapping[]> {
    if (asked.length === 0) return [];
    const medium = asked[0].medium as LdapMedium;
    // Only addresses in their normalised form go to the directory: anything else has no owner.
    const threepids = asked.filter((t) => NORMALISE[medium](t.address) === t.address);
    if (threepids.length === 0) return [];
    const query = this.options.queries[medium];
    const wanted = new Set(threepids.map(threepidKey));
    const found = new Map<string, Mapping>();
    for (const baseDN of this.options.baseDNs) {
      const pending = threepids.filter((t) => !found.has(threepidKey(t)));
      if (pending.length === 0) break;
      const match = query
        ? fromTemplate(query, this.options.token, pending[0].address)
        : anyEqual(this.options.attributes[medium], pending.flatMap((t) => searchForms(medium, t.address)));
      const entries = await this.options.pool.search(signal, baseDN, {
        scope: 'sub', filter: within(this.options.filter, match), attributes: this.readAttributes,
        sizeLimit: LOOKUP_SIZE_LIMIT * pending.length,
      });
      for (const entry of entries) {
        if (query) {
          const mxid = this.entryMxid(entry);
          if (mxid && !found.has(threepidKey(pending[0]))) found.set(threepidKey(pending[0]), { ...pending[0], mxid });
          continue;
        }
        for (const mapping of this.entryMappings(entry, medium)) {
          const key = threepidKey(mapping);
          if (wanted.has(key) && !found.has(key)) found.set(key, mapping);
        }
      }
    }
    return [...found.values()];
  }

  /** The entry's 3PIDs (of `only` medium, or all), normalised, with its Matrix ID; none without one. */
  private entryMappings(entry: Entry, only?: LdapMedium): Mapping[] {
    const mxid = this.entryMxid(entry);
    if (!mxid) return [];
    const mappings: Mapping[] = [];
    for (const medium of only ? [only] : this.media) {
      for (const attribute of this.options.attributes[medium]) {
        for (const value of values(entry, attribute)) {
          const address = NORMALISE[medium](value);
          if (address) mappings.push({ medium: medium as Medium, address, mxid });
          else this.skipped++;
        }
      }
    }
    return mappings;
  }

  /** The Matrix ID of an entry from its uid attribute, or null (counted) when it has no usable one. */
  private entryMxid(entry: Entry): string | null {
    const [uid] = values(entry, this.options.uid.attribute);
    const mxid = uid === undefined ? null : toMxid(uid, this.options.uid.type, this.options.domain);
    if (!mxid) this.skipped++;
    return mxid;
  }
}

/**
 * `uid`: a localpart, lower-cased as Synapse stores them (a userPrincipalName `jdoe@corp.example`
 * gives `jdoe`), completed with `domain`. `mxid`: a full Matrix ID, lower-cased. Null when the
 * result is not a user ID.
 */
export function toMxid(value: string, type: 'uid' | 'mxid', domain: string): string | null {
  const text = value.trim().toLowerCase();
  if (type === 'mxid') {
    const colon = text.indexOf(':');
    return text.startsWith('@') && colon > 1 && LOCALPART.test(text.slice(1, colon)) && SERVER_NAME.test(text.slice(colon + 1)) ? text : null;
  }
  const at = text.indexOf('@');
  const localpart = at > 0 ? text.slice(0, at) : text;
  return LOCALPART.test(localpart) ? `@${localpart}:${domain}` : null;
}

/** The text values of an attribute (names compare without case: `saMAccountName` finds `sAMAccountName`). */
function values(entry: Entry, attribute: string): string[] {
  const wanted = attribute.toLowerCase();
  const name = Object.keys(entry).find((key) => key.toLowerCase() === wanted);
  const value = name === undefined ? undefined : entry[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is string => typeof v === 'string' && v.trim() !== '');
}
