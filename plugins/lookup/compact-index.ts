/**
 * The in-memory hash → Matrix ID table of one pepper, laid out for memory latency rather than
 * for JavaScript objects (a Map of 1M base64 strings costs ~150 bytes an entry and a pointer
 * chase per probe):
 * - every digest (32 bytes) in one Uint32Array, entry e at words[8e..8e+7];
 * - an open-addressing slot table (linear probing) of [tag, entry+1] pairs, the slot chosen by
 *   the digest's first word and the tag being its second word: a miss costs one cache line of
 *   the slot table, a hit one more for the digest compare (SHA-256 bits are uniform, so no
 *   further mixing is needed);
 * - Matrix IDs stored by number (see MxidTable), their JSON text kept, so an answer is built as
 *   one string.
 * Removal leaves a tombstone in the slot table and puts the entry number on a free list; the
 * slot table is rebuilt when live entries plus tombstones pass 3/4 of it.
 * At 1M entries: 36 bytes of entry + ~17 of slot table (see bench/).
 */

const WORDS = 8;
const EMPTY = 0;
const TOMBSTONE = 0xffffffff;
const MAX_LOAD = 0.75;

/** base64url alphabet → 6-bit value, -1 elsewhere. */
const DECODE = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach((c, i) => { DECODE[c.charCodeAt(0)] = i; });

/** A key needs no JSON escaping when it is made of base64url characters only. */
const PLAIN_KEY = /^[A-Za-z0-9_-]*$/;
export const jsonKey = (key: string): string => (PLAIN_KEY.test(key) ? `"${key}"` : JSON.stringify(key));

/**
 * Decodes a canonical unpadded base64url SHA-256 (43 characters, last one with its two spare
 * bits zero) into `out` (32 bytes from `at`). False for anything else: such a string is no hash
 * a client computed the spec's way, and can match nothing.
 */
export function decodeDigest(text: string, out: Uint8Array, at = 0): boolean {
  if (text.length !== 43) return false;
  let o = at;
  let i = 0;
  for (; i < 40; i += 4) {
    const a = sextet(text, i), b = sextet(text, i + 1), c = sextet(text, i + 2), d = sextet(text, i + 3);
    if ((a | b | c | d) < 0) return false;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  const a = sextet(text, 40), b = sextet(text, 41), c = sextet(text, 42);
  if ((a | b | c) < 0 || (c & 3) !== 0) return false;
  const n = (a << 12) | (b << 6) | c;
  out[o++] = n >>> 10;
  out[o] = (n >>> 2) & 0xff;
  return true;
}

function sextet(text: string, i: number): number {
  const code = text.charCodeAt(i);
  return code < 128 ? DECODE[code] : -1;
}

/**
 * The hashes of one lookup, decoded once for every index that answers them (the hash lookup's
 * own, then its extensions'). `open[i]` is 1 while position i holds a canonical digest that no
 * part of the answer has answered yet: an index answering a position closes it (see
 * CompactHashIndex.answer), so a later part neither probes nor repeats it.
 */
export class AskedHashes {
  /** Position i's digest at words[8i..8i+7] (zeros where open[i] is 0 from the start). */
  readonly digests: Uint32Array;
  readonly open: Uint8Array;

  /** `hashes`: the client's strings, as asked (repeats and junk included). */
  constructor(readonly hashes: readonly string[]) {
    const bytes = new Uint8Array(hashes.length * 32);
    const open = new Uint8Array(hashes.length);
    for (let i = 0; i < hashes.length; i++) if (decodeDigest(hashes[i], bytes, i * 32)) open[i] = 1;
    this.digests = new Uint32Array(bytes.buffer);
    this.open = open;
  }
}

/** No character JSON.stringify would escape (surrogates left to it): the JSON text is the string in quotes. */
const PLAIN_JSON = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * The Matrix IDs of a table, by number, each with a count of the entries using it. A Matrix ID
 * is stored once for a run of entries (a source lists a user's 3PIDs together), without a Map
 * from string to number: on the rehash's main thread such a Map of a million IDs cost 5–8 times
 * the rest of the interning (bench/), and more memory than it saved when users have one or two
 * 3PIDs. Its JSON text is made on its first answer and kept.
 */
class MxidTable {
  readonly text: string[] = [];
  private readonly json: string[] = [];
  private readonly uses: number[] = [];
  private readonly free: number[] = [];
  private lastText = '';
  private lastId = -1;

  acquire(mxid: string): number {
    let id = mxid === this.lastText ? this.lastId : -1;
    if (id < 0) {
      id = this.free.pop() ?? this.text.length;
      this.text[id] = mxid;
      this.json[id] = '';
      this.uses[id] = 0;
      this.lastText = mxid;
      this.lastId = id;
    }
    this.uses[id]++;
    return id;
  }

  release(id: number): void {
    if (--this.uses[id] > 0) return;
    this.text[id] = this.json[id] = '';
    this.free.push(id);
    if (id === this.lastId) {
      this.lastId = -1;
      this.lastText = '';
    }
  }

  jsonOf(id: number): string {
    const json = this.json[id];
    if (json !== '') return json;
    const mxid = this.text[id];
    return (this.json[id] = PLAIN_JSON.test(mxid) ? `"${mxid}"` : JSON.stringify(mxid));
  }
}

export class CompactHashIndex {
  private words: Uint32Array;
  private owners: Uint32Array;
  private slots: Uint32Array;
  private mask: number;
  /** Entry numbers handed out so far (live or freed). */
  private top = 0;
  private readonly freeEntries: number[] = [];
  /** Slots not EMPTY (live + tombstones). */
  private used = 0;
  private live = 0;
  private readonly mxids = new MxidTable();
  private readonly scratch = new Uint8Array(32);
  private readonly scratchWords = new Uint32Array(this.scratch.buffer);

  /** `expected`: how many entries to make room for at once (the previous table's size). */
  constructor(expected = 0) {
    const capacity = Math.max(1024, expected);
    this.words = new Uint32Array(capacity * WORDS);
    this.owners = new Uint32Array(capacity);
    const slotCount = slotCountFor(capacity);
    this.slots = new Uint32Array(slotCount * 2);
    this.mask = slotCount - 1;
  }

  get size(): number {
    return this.live;
  }

  /** Bytes held by the typed arrays (Matrix IDs not included). */
  get bytes(): number {
    return this.words.byteLength + this.owners.byteLength + this.slots.byteLength;
  }

  /**
   * Adds the digests in `digests` (8 words each, as a Uint32Array view of the bytes) owned by
   * `mxids[i]`. A digest already present keeps its owner unless `replace` (sources arrive in
   * priority order: the first wins; a bind replaces).
   */
  addDigests(digests: Uint32Array, mxids: readonly string[], replace = false): void {
    for (let i = 0; i < mxids.length; i++) this.put(digests, i * WORDS, mxids[i], replace);
  }

  /** Adds or replaces one entry by its base64url hash; false when `hash` is not a canonical digest. */
  set(hash: string, mxid: string): boolean {
    if (!decodeDigest(hash, this.scratch)) return false;
    this.put(this.scratchWords, 0, mxid, true);
    return true;
  }

  /** The Matrix ID of `hash`, or null. */
  get(hash: string): string | null {
    if (!decodeDigest(hash, this.scratch)) return null;
    const entry = this.find(this.scratchWords, 0);
    return entry < 0 ? null : this.mxids.text[this.owners[entry]];
  }

  /** Removes `hash` if it maps to `mxid` (any owner when `mxid` is undefined); true when removed. */
  delete(hash: string, mxid?: string): boolean {
    if (!decodeDigest(hash, this.scratch)) return false;
    const slot = this.findSlot(this.scratchWords, 0);
    if (slot < 0) return false;
    const entry = this.slots[slot * 2 + 1] - 1;
    if (mxid !== undefined && this.mxids.text[this.owners[entry]] !== mxid) return false;
    this.slots[slot * 2 + 1] = TOMBSTONE;
    this.mxids.release(this.owners[entry]);
    this.freeEntries.push(entry);
    this.live--;
    return true;
  }

  /**
   * The `mappings` object of a lookup answer as JSON text, keyed by the client's own strings
   * (only canonical base64url can match, and it needs no escaping), each key once however often
   * it was asked, and how many keys it holds; closes the positions it answers.
   */
  answerJson(asked: AskedHashes): { json: string; found: number } {
    const mxids = this.mxids;
    const owners = this.owners;
    const hashes = asked.hashes;
    let out = '{';
    let found = 0;
    this.answer(asked, (position, entry) => {
      out += (found++ === 0 ? '"' : ',"') + hashes[position] + '":' + mxids.jsonOf(owners[entry]);
    });
    return { json: out + '}', found };
  }

  /**
   * Answers the open positions of `asked` whose digest this index holds: closes each, and
   * calls `each(hash, mxid)` once per entry, at the first position asking it (a client asking
   * a hash twice is answered once).
   */
  answerEach(asked: AskedHashes, each: (hash: string, mxid: string) => void): void {
    const text = this.mxids.text;
    const owners = this.owners;
    const hashes = asked.hashes;
    this.answer(asked, (position, entry) => each(hashes[position], text[owners[entry]]));
  }

  /**
   * One probe per open position, the digest decoded by AskedHashes. A repeated hit is told from
   * a first one by a small table of the entries met, keyed by the digest's third word: hits are
   * digests this index holds, uniform whatever a client sends, so the table cannot be crowded.
   */
  private answer(asked: AskedHashes, first: (position: number, entry: number) => void): void {
    const { digests, open } = asked;
    let met: Int32Array | null = null;
    let metMask = 0;
    for (let i = 0; i < open.length; i++) {
      if (open[i] === 0) continue;
      const entry = this.find(digests, i * WORDS);
      if (entry < 0) continue;
      open[i] = 0;
      if (met === null) {
        let size = 16;
        while (size < open.length * 2) size *= 2;
        met = new Int32Array(size);
        metMask = size - 1;
      }
      let slot = digests[i * WORDS + 2] & metMask;
      while (met[slot] !== 0 && met[slot] !== entry + 1) slot = (slot + 1) & metMask;
      if (met[slot] !== 0) continue;
      met[slot] = entry + 1;
      first(i, entry);
    }
  }

  /** Every entry as [base64url hash, mxid], in batches (for copying a table to the store). */
  *entries(batchSize = 1000): Generator<Array<{ hash: string; mxid: string }>> {
    let batch: Array<{ hash: string; mxid: string }> = [];
    const bytes = new Uint8Array(this.words.buffer, this.words.byteOffset, this.words.byteLength);
    for (let s = 0; s <= this.mask; s++) {
      const ref = this.slots[s * 2 + 1];
      if (ref === EMPTY || ref === TOMBSTONE) continue;
      const entry = ref - 1;
      const hash = Buffer.from(bytes.buffer, bytes.byteOffset + entry * 32, 32).toString('base64url');
      batch.push({ hash, mxid: this.mxids.text[this.owners[entry]] });
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  private put(digest: Uint32Array, at: number, mxid: string, replace: boolean): void {
    const found = this.find(digest, at);
    if (found >= 0) {
      if (!replace) return;
      const owner = this.mxids.acquire(mxid);
      this.mxids.release(this.owners[found]);
      this.owners[found] = owner;
      return;
    }
    const entry = this.freeEntries.pop() ?? this.newEntry();
    const words = this.words;
    for (let k = 0, base = entry * WORDS; k < WORDS; k++) words[base + k] = digest[at + k];
    this.owners[entry] = this.mxids.acquire(mxid);
    this.live++;
    if (this.place(entry)) this.used++;
    if (this.used > (this.mask + 1) * MAX_LOAD) this.rebuildSlots();
  }

  /** Puts `entry` in the first free slot of its probe sequence; true when that slot was EMPTY (not a tombstone). */
  private place(entry: number): boolean {
    const words = this.words;
    const slots = this.slots;
    const mask = this.mask;
    let slot = words[entry * WORDS] & mask;
    for (;;) {
      const ref = slots[slot * 2 + 1];
      if (ref === EMPTY || ref === TOMBSTONE) {
        slots[slot * 2] = words[entry * WORDS + 1];
        slots[slot * 2 + 1] = entry + 1;
        return ref === EMPTY;
      }
      slot = (slot + 1) & mask;
    }
  }

  private find(digest: Uint32Array, at: number): number {
    const slot = this.findSlot(digest, at);
    return slot < 0 ? -1 : this.slots[slot * 2 + 1] - 1;
  }

  private findSlot(digest: Uint32Array, at: number): number {
    const slots = this.slots;
    const words = this.words;
    const mask = this.mask;
    const tag = digest[at + 1];
    let slot = digest[at] & mask;
    for (;;) {
      const ref = slots[slot * 2 + 1];
      if (ref === EMPTY) return -1;
      if (ref !== TOMBSTONE && slots[slot * 2] === tag) {
        const base = (ref - 1) * WORDS;
        if (words[base] === digest[at] && words[base + 2] === digest[at + 2] && words[base + 3] === digest[at + 3]
          && words[base + 4] === digest[at + 4] && words[base + 5] === digest[at + 5]
          && words[base + 6] === digest[at + 6] && words[base + 7] === digest[at + 7]) return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  private newEntry(): number {
    if (this.top === this.owners.length) {
      const capacity = this.owners.length * 2;
      const words = new Uint32Array(capacity * WORDS);
      words.set(this.words);
      this.words = words;
      const owners = new Uint32Array(capacity);
      owners.set(this.owners);
      this.owners = owners;
    }
    return this.top++;
  }

  /** A fresh slot table sized for the live entries (drops tombstones). */
  private rebuildSlots(): void {
    const old = this.slots;
    const slotCount = slotCountFor(this.live);
    this.slots = new Uint32Array(slotCount * 2);
    this.mask = slotCount - 1;
    this.used = 0;
    for (let s = 1; s < old.length; s += 2) {
      const ref = old[s];
      if (ref !== EMPTY && ref !== TOMBSTONE) {
        this.place(ref - 1);
        this.used++;
      }
    }
  }
}

/** A power of two holding `entries` at a load of at most 1/2 (room to grow before the next rebuild). */
function slotCountFor(entries: number): number {
  let count = 1024;
  while (count < entries * 2) count *= 2;
  return count;
}
