/**
 * Periodic maintenance (purging expired sessions, tokens, invites): started when the app is
 * ready, stopped when it closes, never keeping the process alive, failures logged.
 */
import type { FastifyInstance } from 'fastify';
import { setLongInterval, type LongTimer } from './timers.js';

export function runEvery(app: FastifyInstance, what: string, interval: number, job: () => Promise<unknown>): void {
  let timer: LongTimer | null = null;
  app.addHook('onReady', async () => {
    // A 0 interval would spin.
    timer = setLongInterval(() => {
      job().catch((err) => app.log.error({ err }, `${what} failed`));
    }, Math.max(interval, 1000));
  });
  app.addHook('onClose', async () => {
    timer?.clear();
  });
}
