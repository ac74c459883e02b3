/**
 * Heap growth while a provider's mappings are streamed: the heap is measured after a full garbage
 * collection before the stream and every few batches during it, holding nothing but a count, so
 * the peak growth is what the stream itself keeps alive (a stream that buffers everything grows
 * by the size of the whole listing).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Mapping } from '../../core/providers/provider.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function settledHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

export interface StreamMeasure {
  mappings: number;
  batches: number;
  largestBatch: number;
  /** Largest heap growth seen during the stream, in bytes. */
  peakGrowth: number;
}

export async function measureStream(stream: AsyncIterable<Mapping[]>, sampleEvery = 10): Promise<StreamMeasure> {
  const before = settledHeap();
  const measure: StreamMeasure = { mappings: 0, batches: 0, largestBatch: 0, peakGrowth: 0 };
  for await (const batch of stream) {
    measure.mappings += batch.length;
    measure.batches++;
    measure.largestBatch = Math.max(measure.largestBatch, batch.length);
    if (measure.batches % sampleEvery === 0) measure.peakGrowth = Math.max(measure.peakGrowth, settledHeap() - before);
  }
  measure.peakGrowth = Math.max(measure.peakGrowth, settledHeap() - before);
  return measure;
}

/** What holding `count` mappings like the streamed ones costs, for comparison. */
export function heldCost(count: number): number {
  const before = settledHeap();
  const held = Array.from({ length: count }, (_, i) => ({ medium: 'email', address: `user${i}@example.org`, mxid: `@user${i}:example.org` }));
  const cost = settledHeap() - before;
  held.length = 0;
  return cost;
}
