/**
 * What the members declared, in memory, for lookups: per pepper, one CompactHashIndex (the hash
 * lookup's own compact index, plugins/lookup/compact-index.ts) with the owning member beside
 * each entry, where the hash lookup keeps a Matrix ID: a lookup costs one probe per hash however
 * many members there are. A hash several members declared (a person with an account on two
 * homeservers) is owned by their names joined with a newline, which no server name holds.
 *
 * The store is the truth: sync() rebuilds the index of each pepper whose visible snapshots
 * changed (a commit on this instance or on another one sharing the store, a member dropped, a
 * pepper retired) from the store, while the previous index goes on answering, and swaps it in.
 * A snapshot replaced while it was being read ends early in the store; its id then differs
 * from the one recorded, and the next sync reads that pepper again.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { MemberState, ThirdPartyMappingStore } from '../../core/store/ports/third-party.js';
import { CompactHashIndex, type AskedHashes } from '../lookup/compact-index.js';

const OWNER_SEPARATOR = '\n';

interface PepperIndex {
  /** member server → the snapshot id the index holds. */
  snapshots: Map<string, string>;
  index: CompactHashIndex;
}

export class ThirdPartyIndex {
  private byPepper = new Map<string, PepperIndex>();
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

  /** Entries in memory for `pepper` (a hash several members declared is one). */
  sizeOf(pepper: string): number {
    return this.byPepper.get(pepper)?.index.size ?? 0;
  }

  /**
   * `,"third_party_mappings":{"<server>":["<hash>",…],…}` for the asked hashes members declared
   * for `pepper` among those still open (the hub's own `mappings` closed the hashes it maps),
   * each once; '' when there are none. Reuses the digests decoded for the hub's own probe.
   */
  answer(pepper: string, asked: AskedHashes): string {
    const index = this.byPepper.get(pepper)?.index;
    if (!index) return '';
    const byServer = new Map<string, string>();
    index.answerEach(asked, (hash, owners) => {
      for (const server of owners.split(OWNER_SEPARATOR)) {
        // A hash found in the index is canonical base64url: no JSON escaping needed.
        const list = byServer.get(server);
        byServer.set(server, list === undefined ? `"${hash}"` : `${list},"${hash}"`);
      }
    });
    if (byServer.size === 0) return '';
    let out = '';
    for (const [server, list] of byServer) out += `${out === '' ? '' : ','}${JSON.stringify(server)}:[${list}]`;
    return `,"third_party_mappings":{${out}}`;
  }

  private async load(): Promise<void> {
    const byPepper = new Map<string, MemberState[]>();
    for (const state of await this.store.members()) byPepper.set(state.pepper, [...(byPepper.get(state.pepper) ?? []), state]);
    const next = new Map<string, PepperIndex>();
    for (const [pepper, states] of byPepper) {
      const have = this.byPepper.get(pepper);
      const unchanged = have && have.snapshots.size === states.length && states.every((s) => have.snapshots.get(s.server) === s.snapshot);
      next.set(pepper, unchanged ? have : await this.read(states));
    }
    this.byPepper = next;
  }

  /** The index of one pepper from its members' visible snapshots, member after member. */
  private async read(states: MemberState[]): Promise<PepperIndex> {
    const index = new CompactHashIndex(states.reduce((total, s) => total + s.size, 0));
    for (const { server, pepper } of states) {
      for await (const batch of this.store.visibleHashes(server, pepper)) {
        for (const hash of batch) {
          const owners = index.get(hash);
          index.set(hash, owners === null ? server : `${owners}${OWNER_SEPARATOR}${server}`);
        }
      }
    }
    this.log.info({ members: states.length, hashes: index.size }, 'third-party mappings loaded');
    return { snapshots: new Map(states.map((s) => [s.server, s.snapshot])), index };
  }
}
