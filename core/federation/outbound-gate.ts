/**
 * The cap on outbound requests unisd makes on behalf of callers (register's OpenID check, key
 * fetches for X-Matrix): `maxConcurrent` run at once, `maxQueued` more wait their turn in order,
 * and past that a caller is answered 429 M_LIMIT_EXCEEDED at once. A waiter whose deadline
 * passes leaves the queue. 0 concurrent: no cap.
 */
import { MatrixError } from '../errors.js';

export class OutboundGate {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly maxConcurrent: number, private readonly maxQueued: number) {}

  /** Runs `work` when a slot is free; rejects with `signal`'s reason if it aborts while waiting. */
  async run<T>(work: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.maxConcurrent === 0) return work();
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Requests running and waiting now. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  private acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(new MatrixError(429, 'M_LIMIT_EXCEEDED', 'The identity server is busy contacting other servers, try again later'));
    }
    return new Promise((resolve, reject) => {
      const turn = () => {
        signal.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        this.queue.splice(this.queue.indexOf(turn), 1);
        reject(signal.reason);
      };
      this.queue.push(turn);
      signal.addEventListener('abort', leave, { once: true });
    });
  }

  /** The slot passes to the first waiter, if any (the count of running requests stays). */
  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}
