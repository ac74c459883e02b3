/**
 * Periodic maintenance (purging expired sessions, tokens, invites): started when the app is
 * ready, stopped when it closes, never keeping the process alive, failures logged. A job given
 * a lease runs on one instance at a time among those sharing the store: whoever holds the
 * lease (renewed at each run) runs it, the others skip; when the holder dies, its lease ends
 * after two intervals and the next instance to try takes the job over.
 */
import type { FastifyInstance } from 'fastify';
import { setLongInterval, type LongTimer } from './timers.js';

export interface JobOptions {
  /** The lease's name (`purge:sessions`): one instance runs the job. */
  lease?: string;
}

export function runEvery(app: FastifyInstance, what: string, interval: number, job: () => Promise<unknown>, options: JobOptions = {}): void {
  let timer: LongTimer | null = null;
  // A 0 interval would spin.
  const every = Math.max(interval, 1000);
  const run = async (): Promise<unknown> => {
    if (options.lease && !await app.instance.leases.acquire(options.lease, 2 * every)) return undefined;
    return job();
  };
  app.addHook('onReady', async () => {
    timer = setLongInterval(() => {
      run().catch((err) => app.log.error({ err }, `${what} failed`));
    }, every);
  });
  app.addHook('onClose', async () => {
    timer?.clear();
  });
}
