/** Worker task: the lookup hashes of a batch of [address, medium] pairs with one pepper. */
import { lookupHash } from '../core/crypto/lookup-hash.js';

export default function hashBatch({ entries, pepper }: { entries: Array<[string, string]>; pepper: string }): string[] {
  return entries.map(([address, medium]) => lookupHash(address, medium, pepper));
}
