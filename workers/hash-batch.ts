/**
 * Worker task: the lookup hashes of a batch with one pepper, as binary digests (32 bytes each,
 * in input order) in one buffer that is transferred, not copied, back to the main thread.
 * Each input is "<address> <medium>", one per line; the hashed text is "<address> <medium> <pepper>".
 * `crypto.hash` (Node 20.12+) with 'binary' (latin1) output, copied byte by byte, was the fastest way into
 * a buffer measured here (its 'buffer' output allocates one Buffer per hash).
 */
import { hash } from 'node:crypto';
import { move } from 'piscina';

export interface HashBatchTask {
  /** The inputs, one per line. */
  lines: string;
  count: number;
  pepper: string;
}

export default function hashBatch({ lines, count, pepper }: HashBatchTask): Uint8Array {
  const inputs = count === 0 ? [] : lines.split('\n');
  if (inputs.length !== count) throw new Error(`hashBatch: ${count} inputs announced, ${inputs.length} lines received (an input held a line break)`);
  const out = new Uint8Array(inputs.length * 32);
  const suffix = ` ${pepper}`;
  for (let i = 0; i < inputs.length; i++) {
    const digest = hash('sha256', inputs[i] + suffix, 'binary');
    for (let k = 0, o = i * 32; k < 32; k++) out[o + k] = digest.charCodeAt(k);
  }
  return move(out) as unknown as Uint8Array;
}
