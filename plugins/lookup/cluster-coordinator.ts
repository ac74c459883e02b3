/**
 * Pepper rotation across the processes of `server.workers` (node:cluster). Each worker holds its
 * own table, so no worker may hand out a new pepper before every worker can answer it:
 *   1. the primary draws the pepper and every worker builds its table (accepted, not advertised);
 *   2. once all have, one worker swaps the state in the store (compare-and-swap);
 *   3. every worker switches to the state that won.
 * A lookup with the new pepper therefore finds a table whichever worker it reaches. Rotations
 * are asked by workers (per_requests) or timed here (per_seconds); one runs at a time. Across
 * instances sharing the store, the first worker holds the store's rotation lease from before
 * step 1 to after step 3: while another instance holds it this cluster retries every second,
 * switching to that instance's pepper once it is current, or rotating itself when its holder
 * died and the lease expired.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../../core/config/load.js';
import type { PepperState } from '../../core/store/ports/hashes.js';
import type { PepperRotation } from './rotation.js';
import { setLongTimeout, type LongTimer } from '../../core/timers.js';
import { newPepper } from './rotation.js';

type ToWorker =
  | { type: 'unisd:hash-begin'; id: number }
  | { type: 'unisd:hash-end'; id: number }
  | { type: 'unisd:hash-prepare'; id: number; pepper: string }
  | { type: 'unisd:hash-commit'; id: number; pepper: string }
  | { type: 'unisd:hash-switch'; id: number; state: PepperState }
  | { type: 'unisd:hash-abandon'; id: number; pepper: string };
type ToPrimary =
  | { type: 'unisd:hash-rotate' }
  | { type: 'unisd:hash-ready'; rotatedAt: number }
  | { type: 'unisd:hash-done'; id: number; state?: PepperState; error?: string };

type Request = ToWorker extends infer T ? T extends ToWorker ? Omit<T, 'id'> : never : never;

let sequence = 0;
/** How soon a cluster looks again while another instance holds the rotation lease. */
const RETRY_MS = 1000;

function ask(worker: Worker, message: Request): Promise<PepperState | undefined> {
  const id = ++sequence;
  return new Promise((resolve, reject) => {
    const onMessage = (reply: ToPrimary) => {
      if (reply?.type !== 'unisd:hash-done' || reply.id !== id) return;
      cleanup();
      if (reply.error) reject(new Error(reply.error));
      else resolve(reply.state);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`worker ${worker.id} exited`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    worker.send({ ...message, id });
  });
}

/** In the primary: runs the cluster's rotations. */
export function coordinateRotations(hashing: Config['hashing'], log: Logger): void {
  let running = false;
  let timer: LongTimer | null = null;
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());

  const schedule = (rotatedAt: number) => {
    if (hashing.rotationPolicy !== 'per_seconds') return;
    timer?.clear();
    timer = setLongTimeout(() => void rotate(), Math.max(0, rotatedAt + hashing.delay - Date.now()));
  };

  const rotate = async (): Promise<void> => {
    if (running) return;
    running = true;
    const started = Date.now();
    const pepper = newPepper(hashing.pepperLength);
    const live = workers();
    let begun = false;
    try {
      if (live.length === 0) return;
      let rotatedElsewhere: PepperState | undefined;
      try {
        rotatedElsewhere = await ask(live[0], { type: 'unisd:hash-begin' });
      } catch (err) {
        // Another instance is rotating: look again shortly (its pepper, or the lease when it died).
        log.info({ err: (err as Error).message }, 'pepper rotation: another instance holds the lease; retrying');
        retry();
        return;
      }
      if (rotatedElsewhere) {
        await Promise.all(workers().map((worker) => ask(worker, { type: 'unisd:hash-switch', state: rotatedElsewhere })));
        schedule(rotatedElsewhere.rotatedAt);
        return;
      }
      begun = true;
      await Promise.all(live.map((worker) => ask(worker, { type: 'unisd:hash-prepare', pepper })));
      const state = (await ask(live[0], { type: 'unisd:hash-commit', pepper }))!;
      await Promise.all(workers().map((worker) => ask(worker, { type: 'unisd:hash-switch', state })));
      log.info({ ms: Date.now() - started, workers: live.length }, 'pepper rotated in every worker');
      schedule(state.rotatedAt);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'pepper rotation failed; the current pepper stays');
      for (const worker of workers()) ask(worker, { type: 'unisd:hash-abandon', pepper }).catch(() => {});
      schedule(Date.now());
    } finally {
      if (begun) await ask(live[0], { type: 'unisd:hash-end' }).catch(() => {});
      running = false;
    }
  };
  const retry = () => {
    timer?.clear();
    timer = setLongTimeout(() => void rotate(), RETRY_MS);
  };

  cluster.on('message', (_worker, message: ToPrimary) => {
    if (message?.type === 'unisd:hash-rotate') void rotate();
    else if (message?.type === 'unisd:hash-ready' && !timer) schedule(message.rotatedAt);
  });
}

/** In a worker: rotations come from the primary. Returns the coordinator the worker's rotation uses. */
export function followPrimary(rotation: () => PepperRotation): { request(): void; ready(): void } {
  const send = (message: ToPrimary) => process.send?.(message);
  process.on('message', (message: ToWorker) => {
    if (typeof message?.type !== 'string' || !message.type.startsWith('unisd:hash-')) return;
    const run = async (): Promise<PepperState | undefined> => {
      switch (message.type) {
        case 'unisd:hash-begin': return rotation().beginCoordinated();
        case 'unisd:hash-end': await rotation().endCoordinated(); return undefined;
        case 'unisd:hash-prepare': await rotation().prepareFor(message.pepper); return undefined;
        case 'unisd:hash-commit': return rotation().commit(message.pepper);
        case 'unisd:hash-switch': await rotation().switchTo(message.state); return undefined;
        case 'unisd:hash-abandon': await rotation().abandon(message.pepper); return undefined;
      }
    };
    run().then((state) => send({ type: 'unisd:hash-done', id: message.id, state }),
      (err) => send({ type: 'unisd:hash-done', id: message.id, error: (err as Error).message }));
  });
  return {
    request: () => send({ type: 'unisd:hash-rotate' }),
    ready: () => send({ type: 'unisd:hash-ready', rotatedAt: rotation().rotatedAt }),
  };
}
