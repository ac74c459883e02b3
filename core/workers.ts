/**
 * The Piscina pool for bulk CPU work (re-hashing every 3PID when the pepper rotates), so the
 * event loop keeps serving lookups. Created on first use; tasks live in workers/.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

/** The worker file beside this module's tree: .ts when running from source (tsx), .js when built. */
export function workerFile(name: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`../workers/${name}${ext}`, import.meta.url).href;
}

export class WorkerPool {
  private pool: Piscina | null = null;

  private get piscina(): Piscina {
    this.pool ??= new Piscina({
      filename: workerFile('hash-batch'),
      maxThreads: Math.max(1, availableParallelism() - 1),
      idleTimeout: 30_000,
    });
    return this.pool;
  }

  /** Lookup hashes of `entries` (`[address, medium]` pairs) with `pepper`, computed in a worker. */
  hashBatch(entries: Array<[string, string]>, pepper: string): Promise<string[]> {
    return this.piscina.run({ entries, pepper });
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = null;
  }
}
