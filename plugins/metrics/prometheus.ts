/** app.metrics recorded in a prom-client registry (one per app, never prom-client's global one). */
import client, { type Registry } from 'prom-client';
import type { Gauge, GaugeDefinition, HistogramDefinition, Labels, MetricDefinition, MetricsBackend } from '../../core/metrics.js';

const labelled = ({ name, help, labelNames = [] }: MetricDefinition) => ({ name, help, labelNames: [...labelNames] });

export class PrometheusBackend implements MetricsBackend {
  /** `onCollectError` hears a gauge that could not read its value (it keeps its last one; the other metrics are served). */
  constructor(private readonly registry: Registry, private readonly onCollectError: (metric: string, err: unknown) => void) {}

  counter(definition: MetricDefinition) {
    const counter = new client.Counter({ ...labelled(definition), registers: [this.registry] });
    return { inc: (labels: Labels = {}, value = 1) => counter.inc(labels, value) };
  }

  histogram(definition: HistogramDefinition) {
    const histogram = new client.Histogram({ ...labelled(definition), buckets: definition.buckets, registers: [this.registry] });
    return { observe: (labels: Labels, value: number) => histogram.observe(labels, value) };
  }

  gauge({ collect, ...definition }: GaugeDefinition) {
    const view: Gauge = { set: (labels, value) => gauge.set(labels, value) };
    const gauge: client.Gauge = new client.Gauge({
      ...labelled(definition),
      registers: [this.registry],
      ...(collect ? { collect: () => this.collect(definition.name, () => collect(view)) } : {}),
    });
    return view;
  }

  private async collect(name: string, run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.onCollectError(name, err);
    }
  }
}
