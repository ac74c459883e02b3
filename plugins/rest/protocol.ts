/**
 * ma1sd's identity backend protocol: the JSON a REST backend answers, which is also the JSON
 * format of the exec provider (ma1sd shares it between the two stores).
 *
 *   single request   {"lookup": {"medium": "email", "address": "alice@example.org"}}
 *   single answer    {"lookup": {"medium": …, "address": …, "id": {"type": "localpart"|"mxid", "value": …}}}
 *                    or {} (or {"lookup": {}}) when nothing matches
 *   bulk request     {"lookup": [{"medium": …, "address": …}, …]}
 *   bulk answer      {"lookup": [{"medium": …, "address": …, "id": {…}}, …]} (matches only)
 *
 * unisd's addition for hashing, an item list of the same shape (REST: paged; exec: streamed).
 */
import type { Mapping } from '../../core/providers/provider.js';
import type { Medium, ThreePid } from '../../core/store/port.js';
import { normaliseAddress } from '../../core/threepid.js';

/** The media unisd serves; items of any other medium are skipped. */
export const MEDIA: readonly Medium[] = ['email', 'msisdn'];

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Historical localparts are accepted (any printable text but `:` and `@`); a Matrix ID is `@localpart:server`. */
const LOCALPART = /^[^\s:@]+$/;
const MXID = /^@[^\s:@]+:[^\s/@]+$/;

/**
 * The Matrix ID an `id` object names: a `localpart` completed with `domain` (matrix.domain),
 * or a whole `mxid`. Null when it is neither.
 */
export function mxidOf(id: unknown, domain: string): string | null {
  if (!isObject(id) || typeof id.type !== 'string' || typeof id.value !== 'string') return null;
  const value = id.value.trim();
  const type = id.type.toLowerCase();
  if (type === 'localpart') return domain && LOCALPART.test(value) && value.length <= 255 ? `@${value}:${domain}` : null;
  if (type === 'mxid') return MXID.test(value) && value.length <= 255 ? value : null;
  return null;
}

/** A mapping from an answer item `{medium, address, id}`, its address normalised; null for an unknown medium or a malformed item. */
export function mappingOf(item: unknown, domain: string): Mapping | null {
  if (!isObject(item) || typeof item.medium !== 'string' || typeof item.address !== 'string') return null;
  if (!MEDIA.includes(item.medium)) return null;
  const mxid = mxidOf(item.id, domain);
  if (!mxid) return null;
  const address = normaliseAddress(item.medium, item.address);
  return address ? { medium: item.medium, address, mxid } : null;
}

export const singleRequest = (threepid: ThreePid) => ({ lookup: { medium: threepid.medium, address: threepid.address } });

export const bulkRequest = (threepids: ThreePid[]) => ({ lookup: threepids.map((t) => ({ medium: t.medium, address: t.address })) });

/** The Matrix ID of a single answer, or null for "no match"; throws on an answer of another shape. */
export function singleAnswer(body: unknown, domain: string): string | null {
  if (!isObject(body)) throw new ProtocolError('the single lookup answer is not a JSON object');
  if (body.lookup === undefined || body.lookup === null || (isObject(body.lookup) && Object.keys(body.lookup).length === 0)) return null;
  if (!isObject(body.lookup)) throw new ProtocolError('"lookup" of the single lookup answer is not an object');
  const mxid = mxidOf(body.lookup.id, domain);
  if (!mxid) throw new ProtocolError('the single lookup answer has no valid "id" (type localpart with matrix.domain set, or mxid)');
  return mxid;
}

/** Counts what an answer held that could not be used (unknown media, malformed items); never their content. */
export interface SkipCounter {
  skipped: number;
}

/** The mappings of a bulk answer (unusable items skipped and counted); throws on an answer of another shape. */
export function bulkAnswer(body: unknown, domain: string, counter: SkipCounter): Mapping[] {
  if (!isObject(body) || !Array.isArray(body.lookup)) throw new ProtocolError('the bulk lookup answer has no "lookup" list');
  return mappingsOf(body.lookup, domain, counter);
}

export function mappingsOf(items: unknown[], domain: string, counter: SkipCounter): Mapping[] {
  const found: Mapping[] = [];
  for (const item of items) {
    const mapping = mappingOf(item, domain);
    if (mapping) found.push(mapping);
    else counter.skipped++;
  }
  return found;
}
