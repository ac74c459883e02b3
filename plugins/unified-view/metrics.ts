/**
 * What the hub records through app.metrics: chunks accepted (written, committed) and refused by
 * reason; each configured member's visible snapshot sizes and last push (read from the store at
 * each scrape); the entries of the in-memory third-party index. Labels are member server names
 * from the configuration and words chosen here: never a pepper, a hash or a claimed origin.
 */
import type { FastifyError } from 'fastify';
import type { Metrics } from '../../core/metrics.js';
import type { ThirdPartyMappingStore } from '../../core/store/ports/third-party.js';
import type { PepperRotation } from '../lookup/rotation.js';
import type { ThirdPartyIndex } from './third-party-index.js';

export interface HubMetricSources {
  store: ThirdPartyMappingStore;
  rotation: PepperRotation;
  index: ThirdPartyIndex;
  /** The configured members: only their names become labels. */
  members: readonly string[];
}

/** Why a push was refused, from its error (a bounded set of words). */
export function refusalReason(error: Pick<FastifyError, 'statusCode'> & { errcode?: string }): string {
  switch (error.statusCode) {
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 409: return 'snapshot_conflict';
    case 413: return 'too_large';
    case 429: return 'rate_limited';
    case 400: return error.errcode === 'M_INVALID_PEPPER' ? 'invalid_pepper' : 'invalid';
    default: return 'error';
  }
}

export class HubMetrics {
  private readonly chunks;
  private readonly refusals;

  constructor(metrics: Metrics, sources: HubMetricSources) {
    const { store, rotation, index, members } = sources;
    this.chunks = metrics.counter({ name: 'unisd_unified_view_chunks_total', help: 'Chunks members pushed that the hub accepted, by outcome (written; committed: the final chunk of a snapshot).', labelNames: ['outcome'] });
    this.refusals = metrics.counter({ name: 'unisd_unified_view_refused_chunks_total', help: 'Push requests the hub refused, by reason (unauthorized, forbidden, invalid, invalid_pepper, too_large, rate_limited, snapshot_conflict, error).', labelNames: ['reason'] });
    const configured = new Set(members);
    const isCurrent = (pepper: string) => pepper === rotation.pepper;
    metrics.gauge({
      name: 'unisd_unified_view_member_hashes', help: 'Hashes in each member\'s visible snapshot: under the current pepper, and under the alternates together.', labelNames: ['member', 'pepper'],
      collect: async (gauge) => {
        const sizes = new Map<string, { current: number; alternate: number }>(members.map((m) => [m, { current: 0, alternate: 0 }]));
        for (const state of await store.members()) {
          const size = sizes.get(state.server);
          if (size) size[isCurrent(state.pepper) ? 'current' : 'alternate'] += state.size;
        }
        for (const [member, { current, alternate }] of sizes) {
          gauge.set({ member, pepper: 'current' }, current);
          gauge.set({ member, pepper: 'alternate' }, alternate);
        }
      },
    });
    metrics.gauge({
      name: 'unisd_unified_view_member_last_push_timestamp_seconds', help: 'When each member\'s newest visible snapshot was committed (Unix time; absent before its first).', labelNames: ['member'],
      collect: async (gauge) => {
        const last = new Map<string, number>();
        for (const state of await store.members()) {
          if (configured.has(state.server)) last.set(state.server, Math.max(last.get(state.server) ?? 0, state.pushedAt));
        }
        for (const [member, at] of last) gauge.set({ member }, at / 1000);
      },
    });
    metrics.gauge({
      name: 'unisd_unified_view_index_entries', help: 'Entries of the in-memory third-party index (hashes members declared): the current pepper\'s, and the alternates\' together.', labelNames: ['table'],
      collect: (gauge) => {
        let alternates = 0;
        for (const pepper of rotation.liveAlternates()) alternates += index.sizeOf(pepper);
        gauge.set({ table: 'current' }, index.sizeOf(rotation.pepper));
        gauge.set({ table: 'alternate' }, alternates);
      },
    });
  }

  accepted(committed: boolean): void {
    this.chunks.inc({ outcome: committed ? 'committed' : 'written' });
  }

  refused(error: Pick<FastifyError, 'statusCode'> & { errcode?: string }): void {
    this.refusals.inc({ reason: refusalReason(error) });
  }
}
