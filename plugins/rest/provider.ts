/**
 * The rest identity provider: ma1sd's REST backend protocol (plugins/rest/protocol.ts) for single
 * and bulk lookups, so a backend written for ma1sd answers unchanged, and unisd's paged listing
 * for hash lookup: `GET <all>?limit=N[&since=<cursor>]` answering
 * `{"mappings": [item, …], "next": "<cursor>" | null}`.
 */
import type { IdentityProvider, Mapping, ProviderCapabilities } from '../../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../../core/providers/provider.js';
import type { ThreePid } from '../../core/store/port.js';
import { RestClient, type RestClientOptions } from './client.js';
import { bulkAnswer, bulkRequest, MEDIA, mappingsOf, ProtocolError, singleAnswer, singleRequest, type SkipCounter } from './protocol.js';

export interface RestEndpoints {
  /** Whole URLs; empty: not offered by the backend. */
  single: string;
  bulk: string;
  all: string;
}

export interface RestProviderOptions extends RestClientOptions {
  endpoints: RestEndpoints;
  /** matrix.domain, completing localparts. */
  domain: string;
  hashEnabled: boolean;
  pageSize: number;
}

/** ma1sd gave its REST store this priority. */
const PRIORITY = 20;

export class RestProvider implements IdentityProvider, SkipCounter {
  readonly name = 'rest';
  readonly priority = PRIORITY;
  readonly capabilities: ProviderCapabilities;
  /** Answer items that could not be used (unknown media, malformed), since start. */
  skipped = 0;
  private readonly client: RestClient;

  constructor(private readonly options: RestProviderOptions) {
    this.client = new RestClient(options);
    this.capabilities = {
      media: MEDIA,
      bulk: options.endpoints.bulk !== '',
      hashSource: options.hashEnabled && options.endpoints.all !== '',
    };
  }

  async lookup(threepid: ThreePid, signal: AbortSignal): Promise<string | null> {
    if (this.options.endpoints.single === '') {
      const [found] = await this.bulkLookup([threepid], signal);
      return found?.mxid ?? null;
    }
    const answer = await this.client.call('single lookup', this.options.endpoints.single, singleRequest(threepid), signal);
    return singleAnswer(answer, this.options.domain);
  }

  async bulkLookup(threepids: ThreePid[], signal: AbortSignal): Promise<Mapping[]> {
    if (threepids.length === 0 || this.options.endpoints.bulk === '') return [];
    const answer = await this.client.call('bulk lookup', this.options.endpoints.bulk, bulkRequest(threepids), signal);
    return bulkAnswer(answer, this.options.domain, this);
  }

  async *mappings(signal: AbortSignal): AsyncGenerator<Mapping[]> {
    let cursor: string | null = null;
    do {
      const url = new URL(this.options.endpoints.all);
      url.searchParams.set('limit', String(this.options.pageSize));
      if (cursor !== null) url.searchParams.set('since', cursor);
      const page = await this.client.call('listing', url.href, undefined, signal) as { mappings?: unknown; next?: unknown };
      if (typeof page !== 'object' || page === null || !Array.isArray(page.mappings)) throw new ProtocolError('a listing page has no "mappings" list');
      const next = page.next ?? null;
      if (next !== null && typeof next !== 'string') throw new ProtocolError('"next" of a listing page is neither text nor null');
      // A backend answering the cursor it was given would be read forever.
      if (next !== null && next === cursor) throw new ProtocolError('a listing page points back at itself');
      for (let i = 0; i < page.mappings.length; i += MAPPING_BATCH_SIZE) {
        const batch = mappingsOf(page.mappings.slice(i, i + MAPPING_BATCH_SIZE), this.options.domain, this);
        if (batch.length > 0) yield batch;
      }
      cursor = next;
    } while (cursor !== null);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
