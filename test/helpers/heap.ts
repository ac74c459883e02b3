/**
 * Heap growth while a stream of batches is consumed, measured after forced collections so that
 * only what is still held counts: a stream that reads as it goes stays flat, one that loaded
 * everything first does not.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/** Consumes `batches`, returning how many items went by and the largest heap growth seen (bytes). */
export async function consumeMeasuringHeap(batches: AsyncIterable<unknown[]>): Promise<{ items: number; growth: number }> {
  const before = heapUsed();
  let items = 0;
  let peak = 0;
  let seen = 0;
  for await (const batch of batches) {
    items += batch.length;
    if (++seen % 10 === 0) peak = Math.max(peak, heapUsed() - before);
  }
  return { items, growth: peak };
}
