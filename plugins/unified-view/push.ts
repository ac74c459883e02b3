/**
 * POST /_matrix/identity/v2/lookups, once the member is authenticated: the body checked (in the
 * order of the README's table), then the chunk written to its snapshot and, on the final chunk,
 * the snapshot committed and loaded into the index. Nothing is written before every check passed.
 */
import { randomUUID } from 'node:crypto';
import { badRequest, forbidden, invalidParam, MatrixError } from '../../core/errors.js';
import { isPlainObject } from '../../core/config/formats.js';
import type { ThirdPartyMappingStore } from '../../core/store/ports/third-party.js';
import { decodeDigest } from '../lookup/compact-index.js';
import type { PepperRotation } from '../lookup/rotation.js';
import type { ThirdPartyIndex } from './third-party-index.js';

const SNAPSHOT_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Chunks per snapshot: 100,000 × maxChunkHashes is far beyond any directory. */
const MAX_CHUNK_INDEX = 99_999;

export interface PushResult {
  snapshot: string;
  chunk: number;
  received: number;
  committed: boolean;
}

export interface PushDeps {
  store: ThirdPartyMappingStore;
  rotation: PepperRotation;
  index: ThirdPartyIndex;
  maxChunkHashes: number;
}

const conflict = (message: string) => new MatrixError(409, 'M_UNKNOWN', message);

export class PushService {
  private readonly digest = new Uint8Array(32);

  constructor(private readonly deps: PushDeps) {}

  async push(server: string, body: unknown): Promise<PushResult> {
    const { pepper, hashes, snapshot, chunk, final } = await this.check(server, body);
    const { store, index } = this.deps;
    if (!await store.begin(server, pepper, snapshot)) throw conflict('unknown or already committed snapshot');
    const received = await store.write(server, pepper, snapshot, chunk, hashes);
    if (received === null) throw conflict('unknown or already committed snapshot');
    if (!final) return { snapshot, chunk, received, committed: false };
    const outcome = await store.commit(server, pepper, snapshot, chunk + 1, Date.now());
    if (outcome === 'incomplete') throw conflict(`snapshot incomplete: chunks 0 to ${chunk} have not all arrived (it stays open: send the missing ones and the final chunk again, or start a new snapshot)`);
    if (outcome === 'unknown') throw conflict('unknown or already committed snapshot');
    await index.sync();
    return { snapshot, chunk, received, committed: true };
  }

  private async check(server: string, body: unknown): Promise<{ pepper: string; hashes: string[]; snapshot: string; chunk: number; final: boolean }> {
    if (!isPlainObject(body)) throw badRequest('M_BAD_JSON', 'The request body must be a JSON object');
    const { algorithm, pepper, mappings } = body;
    if (algorithm !== 'sha256') throw invalidParam('algorithm must be sha256');
    if (typeof pepper !== 'string') throw invalidParam('pepper must be text');
    if (!isPlainObject(mappings)) throw invalidParam('mappings must be an object of server name to a list of hashes');
    const other = Object.keys(mappings).find((name) => name !== server);
    if (other !== undefined) throw forbidden('M_FORBIDDEN', `This member may only declare hashes under its own server name (${server})`);
    const hashes = mappings[server] ?? [];
    if (!Array.isArray(hashes)) throw invalidParam(`mappings.${server} must be a list of hashes`);
    if (hashes.length > this.deps.maxChunkHashes) throw new MatrixError(413, 'M_TOO_LARGE', `At most ${this.deps.maxChunkHashes} hashes per chunk`);
    for (const hash of hashes) {
      if (typeof hash !== 'string' || !decodeDigest(hash, this.digest)) throw invalidParam('Each hash must be an unpadded URL-safe base64 SHA-256 digest (43 characters)');
    }
    const { snapshot, chunk, final } = this.chunkFields(body);
    await this.deps.rotation.ready;
    if (!await this.deps.rotation.acceptsAfterSync(pepper)) {
      throw badRequest('M_INVALID_PEPPER', 'Unknown or invalid pepper - has it been rotated?', { lookup_pepper: this.deps.rotation.pepper });
    }
    return { pepper, hashes: hashes as string[], snapshot, chunk, final };
  }

  /** snapshot, chunk and final together, or none of them: a whole snapshot in one chunk (the MSC's form). */
  private chunkFields(body: Record<string, unknown>): { snapshot: string; chunk: number; final: boolean } {
    const { snapshot, chunk, final } = body;
    if (snapshot === undefined && chunk === undefined && final === undefined) return { snapshot: randomUUID(), chunk: 0, final: true };
    if (typeof snapshot !== 'string' || !SNAPSHOT_ID.test(snapshot)) throw invalidParam('snapshot must be 1 to 64 characters of A-Z a-z 0-9 . _ -');
    if (!Number.isSafeInteger(chunk) || (chunk as number) < 0 || (chunk as number) > MAX_CHUNK_INDEX) throw invalidParam(`chunk must be a whole number from 0 to ${MAX_CHUNK_INDEX}`);
    if (typeof final !== 'boolean') throw invalidParam('final must be true or false');
    return { snapshot, chunk: chunk as number, final };
  }
}
