/**
 * Periodic maintenance (purging expired sessions, tokens, invites): started when the app is
 * ready, stopped when it closes, never keeping the process alive, failures logged.
 */
import type { FastifyInstance } from 'fastify';

export function runEvery(app: FastifyInstance, what: string, interval: number, job: () => Promise<unknown>): void {
  let timer: NodeJS.Timeout | null = null;
  app.addHook('onReady', async () => {
    // A 0 interval would spin.
    timer = setInterval(() => {
      job().catch((err) => app.log.error({ err }, `${what} failed`));
    }, Math.max(interval, 1000));
    timer.unref();
  });
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
  });
}
