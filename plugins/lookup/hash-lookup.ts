/**
 * Hash lookup's service: the answers of /v2/hash_details and /v2/lookup, from the pepper
 * rotation's tables (sha256) or the binds and providers (none), and the lookup budgets.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../../core/metrics.js';
import type { Config } from '../../core/config/load.js';
import type { ProviderRegistry } from '../../core/providers/registry.js';
import type { HashTableStore } from '../../core/store/ports/hashes.js';
import type { ThreePid } from '../../core/store/port.js';
import type { Account } from '../../core/api.js';
import { threepidKey } from '../../core/providers/registry.js';
import { normaliseAddress } from '../../core/threepid.js';
import { badRequest, invalidParam, missingParams } from '../../core/errors.js';
import { RateLimiter, consumeAll } from '../../core/rate-limit.js';
import type { LimitStore } from '../../core/limit-stores/store.js';
import { isPlainObject } from '../../core/config/formats.js';
import { AskedHashes, jsonKey } from './compact-index.js';
import type { MemoryHashTables } from './memory-tables.js';
import type { PepperRotation } from './rotation.js';
import { LookupMetrics } from './metrics.js';

/** A `none` address longer than this matches nothing (an email is at most 254, plus " msisdn"). */
const MAX_PLAIN_ADDRESS = 300;
/** hash_details re-reads the shared pepper state at most this often (another instance may have rotated). */
const SYNC_INTERVAL_MS = 1000;

export interface HashLookupDeps {
  hashing: Config['hashing'];
  budget: Config['lookup']['budget'];
  rotation: PepperRotation;
  tables: HashTableStore;
  memory: MemoryHashTables | null;
  providers: ProviderRegistry;
  log: FastifyBaseLogger;
  metrics: Metrics;
  /** Where the budgets are counted (rateLimit.store). */
  limitStore?: LimitStore;
}

/**
 * What another plugin adds to hash lookup's answers (unified-view: MSC4004), registered with
 * HashLookup.extend() so that this plugin knows none of them.
 */
export interface HashLookupExtension {
  /** Fields added to GET /hash_details. */
  details?(): Record<string, unknown>;
  /**
   * Members added to a sha256 lookup answer, as JSON text starting with a comma (or ''):
   * `asked` holds the hashes as asked, decoded once; its open positions are the canonical
   * hashes no earlier part of the answer (`mappings`, an earlier extension) answered. Answer
   * them with CompactHashIndex.answerEach, which closes what it answers and repeats nothing.
   */
  answer?(pepper: string, asked: AskedHashes): string;
}

export class HashLookup {
  private readonly extensions: HashLookupExtension[] = [];
  private readonly perToken: RateLimiter;
  private readonly perUser: RateLimiter;
  private readonly counted: LookupMetrics;
  private lastSync = 0;

  constructor(private readonly deps: HashLookupDeps) {
    this.counted = new LookupMetrics(deps.metrics);
    const { perToken, perUser, window } = deps.budget;
    this.perToken = new RateLimiter(perToken, window, { name: 'lookup.budget.perToken', metrics: deps.metrics, store: deps.limitStore });
    this.perUser = new RateLimiter(perUser, window, { name: 'lookup.budget.perUser', metrics: deps.metrics, store: deps.limitStore });
  }

  extend(extension: HashLookupExtension): void {
    this.extensions.push(extension);
  }

  async details(): Promise<Record<string, unknown>> {
    await this.deps.rotation.ready;
    const now = Date.now();
    if (now - this.lastSync >= SYNC_INTERVAL_MS) {
      this.lastSync = now;
      this.deps.rotation.sync().catch((err) => this.deps.log.error({ err: (err as Error).message }, 'reading the pepper state failed'));
    }
    const details: Record<string, unknown> = { lookup_pepper: this.deps.rotation.pepper, algorithms: this.deps.hashing.algorithms };
    for (const extension of this.extensions) Object.assign(details, extension.details?.());
    return details;
  }

  /**
   * The answer of POST /v2/lookup as JSON text. Checks in the order the spec's errors are
   * expected: missing parameters, malformed addresses, empty list, algorithm, size, pepper,
   * then the budget; the token and terms gates ran before.
   */
  async lookup(body: unknown, account: Account): Promise<string> {
    if (!isPlainObject(body)) throw badRequest('M_BAD_JSON', 'The request body must be a JSON object');
    const missing = ['algorithm', 'pepper', 'addresses'].filter((key) => body[key] === undefined);
    if (missing.length > 0) throw missingParams(`Missing body parameter: ${missing.join(', ')}`);
    const { algorithm, pepper, addresses } = body;
    if (!Array.isArray(addresses) || !addresses.every((a) => typeof a === 'string')) throw invalidParam('addresses must be a list of strings');
    if (addresses.length === 0) return '{"mappings":{}}';
    if (typeof algorithm !== 'string' || !this.deps.hashing.algorithms.includes(algorithm)) {
      throw invalidParam(`Unsupported algorithm; this server offers ${this.deps.hashing.algorithms.join(', ')}`);
    }
    if (addresses.length > this.deps.hashing.maxAddresses) {
      throw badRequest('M_TOO_LARGE', `At most ${this.deps.hashing.maxAddresses} addresses per lookup`);
    }
    await this.deps.rotation.ready;
    if (typeof pepper !== 'string' || !await this.deps.rotation.acceptsAfterSync(pepper)) {
      throw badRequest('M_INVALID_PEPPER', 'Unknown or invalid pepper - has it been rotated?', { algorithm, lookup_pepper: this.deps.rotation.pepper });
    }
    await this.spend(account, addresses.length);
    if (algorithm !== 'sha256') {
      const plain = await this.plain(addresses);
      this.counted.looked({ api: 'v2', algorithm }, addresses.length, plain.found);
      return `{"mappings":${plain.json}}`;
    }
    const asked = new AskedHashes(addresses);
    const { json, found } = await this.hashed(pepper, asked);
    this.counted.looked({ api: 'v2', algorithm }, addresses.length, found);
    this.deps.rotation.countLookup(pepper).catch((err) => this.deps.log.error({ err: (err as Error).message }, 'counting the lookup failed'));
    let extra = '';
    for (const extension of this.extensions) extra += extension.answer?.(pepper, asked) ?? '';
    return `{"mappings":${json}${extra}}`;
  }

  /** Forgets tokens and users whose budget is full again. */
  async sweep(): Promise<void> {
    await this.perToken.sweep();
    await this.perUser.sweep();
  }

  /** Budgets in addresses per window, per token and per user: a 429 spends nothing. */
  private async spend(account: Account, cost: number): Promise<void> {
    await consumeAll([[this.perToken, `token:${account.tokenHash}`, cost], [this.perUser, `user:${account.userId}`, cost]]);
  }

  /** The `mappings` JSON of a sha256 lookup and how many it found; the positions it answers closed in `asked`. */
  private async hashed(pepper: string, asked: AskedHashes): Promise<MappingsJson> {
    const index = this.deps.memory?.index(pepper);
    if (index) return index.answerJson(asked);
    const { hashes, open } = asked;
    const found = new Map((await this.deps.tables.lookup(pepper, hashes.filter((_, i) => open[i] === 1))).map((e) => [e.hash, e.mxid]));
    for (let i = 0; i < hashes.length; i++) if (found.has(hashes[i])) open[i] = 0;
    return mappingsJson(hashes, (hash) => found.get(hash));
  }

  /** `none`: "<address> <medium>", normalised, through the binds then the providers (registry order). */
  private async plain(addresses: string[]): Promise<MappingsJson> {
    const asked = new Map<string, ThreePid>();
    for (const text of addresses) {
      const space = text.lastIndexOf(' ');
      if (space <= 0 || text.length > MAX_PLAIN_ADDRESS) continue;
      const medium = text.slice(space + 1);
      if (medium !== 'email' && medium !== 'msisdn') continue;
      asked.set(text, { medium, address: normaliseAddress(medium, text.slice(0, space)) });
    }
    const found = new Map((await this.deps.providers.bulkLookup([...asked.values()])).map((m) => [threepidKey(m), m.mxid]));
    return mappingsJson(addresses, (text) => {
      const threepid = asked.get(text);
      return threepid && found.get(threepidKey(threepid));
    });
  }
}

/** The mappings as JSON text, and how many keys had a Matrix ID. */
interface MappingsJson { json: string; found: number }

/** `{"<key>":"<mxid>",…}` for the keys that have a Matrix ID, keyed by the client's own strings, each once. */
function mappingsJson(keys: readonly string[], mxidOf: (key: string) => string | undefined): MappingsJson {
  const written = new Set<string>();
  let out = '{';
  for (const key of keys) {
    if (written.has(key)) continue;
    const mxid = mxidOf(key);
    if (mxid === undefined) continue;
    out += `${written.size === 0 ? '' : ','}${jsonKey(key)}:${JSON.stringify(mxid)}`;
    written.add(key);
  }
  return { json: `${out}}`, found: written.size };
}
