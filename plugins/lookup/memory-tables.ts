/**
 * `hashing.hashStorageType: in_memory`: one CompactHashIndex per pepper, behind the
 * HashTableStore port, plus the fast path the lookup route uses (`index(pepper).answerJson`).
 * Each process builds its own at start and on rotation; nothing survives a restart.
 */
import type { HashEntry, HashTableStore } from '../../core/store/ports/hashes.js';
import { CompactHashIndex } from './compact-index.js';

export class MemoryHashTables implements HashTableStore {
  private readonly tables = new Map<string, CompactHashIndex>();

  /** The table of `pepper`, if there is one. */
  index(pepper: string): CompactHashIndex | undefined {
    return this.tables.get(pepper);
  }

  /** Installs a table built elsewhere (the rehash builds binary digests straight into one). */
  install(pepper: string, index: CompactHashIndex): void {
    this.tables.set(pepper, index);
  }

  async replace(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void> {
    const index = new CompactHashIndex(this.tables.get(pepper)?.size);
    for await (const batch of entries) {
      for (const { hash, mxid } of batch) if (index.get(hash) === null) index.set(hash, mxid);
    }
    this.tables.set(pepper, index);
  }

  async lookup(pepper: string, hashes: string[]): Promise<HashEntry[]> {
    const index = this.tables.get(pepper);
    if (!index) return [];
    return hashes.flatMap((hash) => {
      const mxid = index.get(hash);
      return mxid === null ? [] : [{ hash, mxid }];
    });
  }

  async add(pepper: string, entries: HashEntry[]): Promise<void> {
    const index = this.tables.get(pepper);
    for (const { hash, mxid } of index ? entries : []) index!.set(hash, mxid);
  }

  async remove(pepper: string, entries: HashEntry[]): Promise<void> {
    const index = this.tables.get(pepper);
    for (const { hash, mxid } of index ? entries : []) index!.delete(hash, mxid);
  }

  async retain(peppers: string[]): Promise<void> {
    for (const pepper of [...this.tables.keys()]) if (!peppers.includes(pepper)) this.tables.delete(pepper);
  }

  async size(pepper: string): Promise<number> {
    return this.tables.get(pepper)?.size ?? 0;
  }
}
