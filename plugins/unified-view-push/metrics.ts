/**
 * What a member records through app.metrics about its pushes, per hub: snapshots committed,
 * pushes given up, the last push that succeeded, and the 3PIDs it declared. The `hub` label is
 * the hub's configured server name (unifiedViewPush.hubs[].server), never its URL, which may
 * carry credentials.
 */
import type { Metrics } from '../../core/metrics.js';
import type { PushReport } from './pusher.js';

export class PushMetrics {
  private readonly snapshots;
  private readonly failures;
  private readonly lastSuccess;
  private readonly threepids;

  constructor(metrics: Metrics) {
    this.snapshots = metrics.counter({ name: 'unisd_unified_view_push_snapshots_total', help: 'Snapshots this member pushed whole to a hub (one per pepper pushed), by hub.', labelNames: ['hub'] });
    this.failures = metrics.counter({ name: 'unisd_unified_view_push_failures_total', help: 'Pushes to a hub given up (retried later with backoff), by hub.', labelNames: ['hub'] });
    this.lastSuccess = metrics.gauge({ name: 'unisd_unified_view_push_last_success_timestamp_seconds', help: 'When the last push to a hub succeeded (Unix time; a push with nothing new to send counts), by hub.', labelNames: ['hub'] });
    this.threepids = metrics.gauge({ name: 'unisd_unified_view_push_threepids', help: '3PIDs this member declared to a hub in its last snapshot, by hub.', labelNames: ['hub'] });
  }

  succeeded(hub: string, report: PushReport, at = Date.now()): void {
    this.lastSuccess.set({ hub }, at / 1000);
    if (report.peppers === 0) return; // the hub already had the current data: the last count stands
    this.snapshots.inc({ hub }, report.peppers);
    this.threepids.set({ hub }, report.threepids);
  }

  failed(hub: string): void {
    this.failures.inc({ hub });
  }
}
