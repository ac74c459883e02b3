/** What the lookup plugin records through app.metrics: addresses asked and found, by API and algorithm. */
import type { Metrics } from '../../core/metrics.js';

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
