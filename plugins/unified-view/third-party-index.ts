/**
 * What the members declared, in memory, for lookups: one CompactHashIndex (the hash lookup's
 * own compact index, plugins/lookup/compact-index.ts) per (member, pepper), each entry's owner
 * being the member's server name. One index per member rather than one per pepper, because a
 * hash may be owned by several members (a person with an account on two homeservers), and
 * because a member's new snapshot then replaces its index in one assignment, never touching the
 * others'. A lookup probes one index per member: an organisation has a handful.
 *
 * The store is the truth: sync() loads every visible snapshot the index lacks (a commit on this
 * instance, or on another one sharing the store) and forgets those gone (replaced, dropped,
 * retired peppers). A snapshot replaced while it was being read ends early in the store and is
 * loaded again on the next sync, since its snapshot id differs.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { MemberState, ThirdPartyMappingStore } from '../../core/store/ports/third-party.js';
import { CompactHashIndex } from '../lookup/compact-index.js';

interface Loaded { snapshot: string; index: CompactHashIndex }

export class ThirdPartyIndex {
  /** pepper → member server → its snapshot. */
  private byPepper = new Map<string, Map<string, Loaded>>();
  private current: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(private readonly store: ThirdPartyMappingStore, private readonly log: FastifyBaseLogger) {}

  /** Brings the index up to the store. Calls during a sync join one more sync after it (never more than one waiting). */
  sync(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.current.catch(() => {}).then(() => {
      this.queued = null;
      return this.load();
    });
    this.queued = next;
    this.current = next;
    return next;
  }

  /** Entries in memory, every member and pepper together. */
  get size(): number {
    let total = 0;
    for (const members of this.byPepper.values()) for (const { index } of members.values()) total += index.size;
    return total;
  }

  /**
   * `,"third_party_mappings":{"<server>":["<hash>",…],…}` for the asked hashes members declared
   * for `pepper` and the hub does not map itself (`mapped`), each once; '' when there are none.
   */
  answer(pepper: string, hashes: readonly string[], mapped: (hash: string) => boolean): string {
    const members = this.byPepper.get(pepper);
    if (!members) return '';
    let out = '';
    for (const [server, { index }] of members) {
      let list = '';
      let listed: Set<string> | null = null;
      for (let i = 0; i < hashes.length; i++) {
        const hash = hashes[i];
        if (index.get(hash) === null || mapped(hash) || listed?.has(hash)) continue;
        (listed ??= new Set()).add(hash);
        // A hash found in an index is canonical base64url: no JSON escaping needed.
        list += (list === '' ? '"' : ',"') + hash + '"';
      }
      if (list !== '') out += `${out === '' ? '' : ','}${JSON.stringify(server)}:[${list}]`;
    }
    return out === '' ? '' : `,"third_party_mappings":{${out}}`;
  }

  private async load(): Promise<void> {
    const states = await this.store.members();
    const next = new Map<string, Map<string, Loaded>>();
    for (const state of states) {
      const have = this.byPepper.get(state.pepper)?.get(state.server);
      const loaded = have?.snapshot === state.snapshot ? have : { snapshot: state.snapshot, index: await this.read(state) };
      let members = next.get(state.pepper);
      if (!members) next.set(state.pepper, (members = new Map()));
      members.set(state.server, loaded);
    }
    this.byPepper = next;
  }

  private async read(state: MemberState): Promise<CompactHashIndex> {
    const index = new CompactHashIndex(state.size);
    for await (const batch of this.store.visibleHashes(state.server, state.pepper)) {
      for (const hash of batch) index.set(hash, state.server);
    }
    this.log.info({ member: state.server, hashes: index.size }, 'member snapshot loaded');
    return index;
  }
}
