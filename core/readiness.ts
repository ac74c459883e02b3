/**
 * What "ready to serve" means, as checks the core and plugins add to `app.readiness` (the store
 * answers, the hash index is loaded, …); the health plugin's `/_unisd/ready` runs them. A check
 * answers null when its part is ready, else a short reason its author wrote: reasons reach
 * strangers, so they never carry an error message (it may quote a path, an address or a URI).
 */

/** null: ready; else why not, in a few fixed words (`store unreachable`). */
export type ReadinessCheck = () => Promise<string | null>;

export interface ReadinessReport {
  ready: boolean;
  /** The checks that failed and why, in the order they were added. */
  failing: Array<{ check: string; reason: string }>;
}

/** A check that has not answered after this long counts as failed (a hanging database). */
export const CHECK_TIMEOUT_MS = 5_000;

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private running: Promise<ReadinessReport> | null = null;

  /** `onError` hears a check's error (for the log; the report only says the check failed). */
  constructor(private readonly onError: (check: string, err: unknown) => void) {}

  add(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" is added twice`);
    this.checks.set(name, check);
  }

  /** Runs every check; callers arriving meanwhile share the same run, so probes cost one run at a time. */
  evaluate(): Promise<ReadinessReport> {
    this.running ??= this.run().finally(() => { this.running = null; });
    return this.running;
  }

  private async run(): Promise<ReadinessReport> {
    const results = await Promise.all([...this.checks].map(async ([check, run]) => ({ check, reason: await this.runOne(check, run) })));
    const failing = results.filter((result): result is { check: string; reason: string } => result.reason !== null);
    return { ready: failing.length === 0, failing };
  }

  private async runOne(name: string, check: ReadinessCheck): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((done) => { timer = setTimeout(() => done('no answer in time'), CHECK_TIMEOUT_MS); });
    try {
      return await Promise.race([check(), timeout]);
    } catch (err) {
      this.onError(name, err);
      return 'check failed';
    } finally {
      clearTimeout(timer);
    }
  }
}
