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
  /** Threads the pool runs (how many batches are worth keeping in flight). */
  readonly threads = Math.max(1, availableParallelism() - 1);

  private get piscina(): Piscina {
    this.pool ??= new Piscina({
      filename: workerFile('hash-batch'),
      maxThreads: this.threads,
      idleTimeout: 30_000,
    });
    return this.pool;
  }

  /**
   * SHA-256 digests of "<input> <pepper>" for each input ("<address> <medium>", without a line
   * break), computed in a worker: 32 bytes each, in input order, in one transferred buffer. The
   * inputs travel as one string: cloning an array of a thousand strings into the worker cost the
   * main thread more than anything else in a rehash (bench/).
   */
  hashBatch(inputs: string[], pepper: string): Promise<Uint8Array> {
    return this.piscina.run({ lines: inputs.join('\n'), count: inputs.length, pepper });
  }



  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = null;
  }
}
