/**
 * What the lookup plugin records through app.metrics: addresses asked and found, by API and
 * algorithm; the hash tables (entries and bytes, read at each scrape), their rotations and how
 * long each took, and the progress of a table build under way. No label holds a pepper.
 */
import type { Metrics } from '../../core/metrics.js';
import type { EventBus } from '../../core/events.js';
import type { HashTableStore } from '../../core/store/ports/hashes.js';
import type { MemoryHashTables } from './memory-tables.js';
import type { PepperRotation } from './rotation.js';

/** v1 lookups are plain addresses: algorithm `none`. */
export interface LookupLabels {
  api: 'v1' | 'v2';
  algorithm: string;
}

export class LookupMetrics {
  private readonly addresses;
  private readonly hits;

  constructor(metrics: Metrics) {
    this.addresses = metrics.counter({ name: 'unisd_lookup_addresses_total', help: 'Addresses (or hashes) looked up, by API and algorithm.', labelNames: ['api', 'algorithm'] });
    this.hits = metrics.counter({ name: 'unisd_lookup_hits_total', help: 'Looked-up addresses (or hashes) that had a Matrix ID, by API and algorithm.', labelNames: ['api', 'algorithm'] });
  }

  looked(labels: LookupLabels, asked: number, found: number): void {
    this.addresses.inc({ ...labels }, asked);
    this.hits.inc({ ...labels }, found);
  }
}

/** Rotations take seconds to minutes (a table of millions is rebuilt in the pool). */
const ROTATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800];

export interface HashTableSources {
  rotation: PepperRotation;
  tables: HashTableStore;
  /** The in_memory tables; null with sql storage (no bytes of this process to report). */
  memory: MemoryHashTables | null;
  events: EventBus;
}

export class HashTableMetrics {
  private readonly durations;
  private hashed = 0;
  private expected = 0;
  private ready = false;

  constructor(metrics: Metrics, sources: HashTableSources) {
    const { rotation, tables, memory, events } = sources;
    void rotation.ready.then(() => { this.ready = true; }, () => {});
    /** The current table, and the alternates' (still accepted after a rotation) together. */
    const byTable = async (measure: (pepper: string) => Promise<number> | number): Promise<Array<[string, number]>> => {
      let alternates = 0;
      for (const pepper of rotation.liveAlternates()) alternates += await measure(pepper);
      return [['current', await measure(rotation.pepper)], ['alternate', alternates]];
    };
    metrics.gauge({
      name: 'unisd_hash_index_entries', help: 'Entries of the hash lookup tables: the current pepper\'s, and the alternates\' together.', labelNames: ['table'],
      collect: async (gauge) => {
        if (!this.ready) return;
        for (const [table, entries] of await byTable((pepper) => tables.size(pepper))) gauge.set({ table }, entries);
      },
    });
    if (memory) {
      metrics.gauge({
        name: 'unisd_hash_index_bytes', help: 'Memory held by the in_memory hash tables of this process: the current pepper\'s, and the alternates\' together.', labelNames: ['table'],
        collect: async (gauge) => {
          if (!this.ready) return;
          for (const [table, bytes] of await byTable((pepper) => memory.index(pepper)?.bytes ?? 0)) gauge.set({ table }, bytes);
        },
      });
    }
    const rotations = metrics.counter({ name: 'unisd_pepper_rotations_total', help: 'Lookup pepper rotations this process switched to (its own or another instance\'s).' });
    events.on('pepper-rotated', () => rotations.inc());
    this.durations = metrics.histogram({ name: 'unisd_pepper_rotation_duration_seconds', help: 'Time of the pepper rotations this process ran, new table build included.', buckets: ROTATION_BUCKETS });
    metrics.gauge({
      name: 'unisd_rehash_hashed_entries', help: 'Entries hashed so far by the hash table build under way (0 when none).',
      collect: (gauge) => gauge.set({}, this.hashed),
    });
    metrics.gauge({
      name: 'unisd_rehash_expected_entries', help: 'Entries the build under way expects (the current table\'s size; 0 when no build runs): progress is hashed / expected.',
      collect: (gauge) => gauge.set({}, this.expected),
    });
  }

  /** A rotation this process ran, and how long it took. */
  rotated(ms: number): void {
    this.durations.observe({}, ms / 1000);
  }

  /** Runs a table build, following its progress (the entries it has hashed) until it ends. */
  async build<T>(expected: number, run: (onProgress: (hashed: number) => void) => Promise<T>): Promise<T> {
    this.expected = expected;
    this.hashed = 0;
    try {
      return await run((hashed) => { this.hashed = hashed; });
    } finally {
      this.hashed = 0;
      this.expected = 0;
    }
  }
}
