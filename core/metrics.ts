/**
 * What the core and the features count and time, without knowing Prometheus: `app.metrics`
 * hands out counters, histograms and gauges by definition, and records nothing until a backend
 * is bound (the `metrics` plugin binds prom-client's). With the plugin off every call is a no-op.
 * A metric may be defined before or after the backend is bound, and defined again under the same
 * name (several rate limiters share one counter): the same metric is returned.
 *
 * Labels hold bounded sets of words chosen by the code (a route template, a provider's name, a
 * limiter's name), never a 3PID, a token, a Matrix ID or an IP address.
 */

export type Labels = Record<string, string>;

export interface Counter {
  inc(labels?: Labels, value?: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
  /** Starts timing; the returned function observes the seconds elapsed, with extra labels if given. */
  startTimer(labels?: Labels): (more?: Labels) => void;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
}

export interface MetricDefinition {
  /** Prometheus name, `unisd_` first, unit last (`_seconds`, `_bytes`, `_total` for counters). */
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramDefinition extends MetricDefinition {
  /** Upper bounds of the buckets, in the metric's unit; default the backend's. */
  buckets?: number[];
}

export interface GaugeDefinition extends MetricDefinition {
  /** Sets the current values when the metrics are read (a queue's depth asked from the store). */
  collect?: (gauge: Gauge) => void | Promise<void>;
}

/** Where metrics are recorded: the metrics plugin's prom-client registry. Methods are own properties. */
export interface MetricsBackend {
  counter(definition: MetricDefinition): Counter;
  histogram(definition: HistogramDefinition): Pick<Histogram, 'observe'>;
  gauge(definition: GaugeDefinition): Gauge;
}

type Kind = keyof MetricsBackend;

interface Recorder {
  inc(labels?: Labels, value?: number): void;
  observe(labels: Labels, value: number): void;
  set(labels: Labels, value: number): void;
}

const NOOP: Recorder = { inc() {}, observe() {}, set() {} };

/** A defined metric: forwards to the backend's once one is bound. */
class DefinedMetric implements Counter, Histogram, Gauge {
  target: Recorder = NOOP;

  constructor(readonly kind: Kind, readonly definition: MetricDefinition) {}

  inc(labels?: Labels, value?: number): void {
    this.target.inc(labels, value);
  }

  observe(labels: Labels, value: number): void {
    this.target.observe(labels, value);
  }

  set(labels: Labels, value: number): void {
    this.target.set(labels, value);
  }

  startTimer(labels: Labels = {}): (more?: Labels) => void {
    const start = process.hrtime.bigint();
    return (more) => this.observe({ ...labels, ...more }, Number(process.hrtime.bigint() - start) / 1e9);
  }
}

export class Metrics {
  private readonly defined = new Map<string, DefinedMetric>();
  private backend: MetricsBackend | null = null;

  counter(definition: MetricDefinition): Counter {
    return this.define('counter', definition);
  }

  histogram(definition: HistogramDefinition): Histogram {
    return this.define('histogram', definition);
  }

  gauge(definition: GaugeDefinition): Gauge {
    return this.define('gauge', definition);
  }

  /** Records every metric defined so far, and every one defined later, in `backend`. */
  use(backend: MetricsBackend): void {
    if (this.backend) throw new Error('a metrics backend is already bound');
    this.backend = backend;
    for (const metric of this.defined.values()) this.bind(metric);
  }

  private define(kind: Kind, definition: MetricDefinition): DefinedMetric {
    const existing = this.defined.get(definition.name);
    if (existing) {
      const same = existing.kind === kind && (existing.definition.labelNames ?? []).join() === (definition.labelNames ?? []).join();
      if (!same) throw new Error(`metric ${definition.name} is defined twice, differently`);
      return existing;
    }
    const metric = new DefinedMetric(kind, definition);
    this.defined.set(definition.name, metric);
    if (this.backend) this.bind(metric);
    return metric;
  }

  private bind(metric: DefinedMetric): void {
    // The backend's object has its kind's method only (an own property); the others stay no-ops.
    metric.target = { ...NOOP, ...this.backend![metric.kind](metric.definition as never) };
  }
}
