/**
 * The production backend: MongoDB through the official driver (v6), shared by several unisd
 * instances. No multi-document transactions (they need a replica set), so every change that
 * must look atomic is one conditional single-document write:
 * - the pepper state is one document, swapped with a filter on the expected pepper;
 * - a hash table is written as a new generation nobody reads, then published by moving the
 *   per-pepper pointer document to it; lookups re-read the pointer and retry if it moved.
 * Client input only ever lands in filters as a checked string or number (never an object that
 * could be an operator); free-form objects (signed associations, invite fields, onbind bodies)
 * are stored as JSON text so their keys are never interpreted.
 */
import { randomUUID } from 'node:crypto';
import { MongoBulkWriteError, MongoClient, MongoServerError, type Collection, type Db } from 'mongodb';
import type {
  AcceptedPolicy, AccountToken, Association, HashEntry, Medium, OnbindDelivery, PendingInvite, PepperState, SessionChanges, Store, ThreePid, ValidationSession,
} from './port.js';

interface SessionDoc {
  _id: string; medium: string; address: string; clientSecret: string; tokenHash: string; sendAttempt: number;
  nextLink: string | null; createdAt: number; updatedAt: number; validatedAt: number | null;
}
interface AssociationDoc {
  medium: string; address: string; mxid: string; ts: number; notBefore: number; notAfter: number; signedJson: string;
}
interface InviteDoc {
  _id: string; medium: string; address: string; roomId: string; sender: string; fieldsJson: string;
  ephemeralPublicKey: string; createdAt: number; expiresAt: number; deliveredAt: number | null;
}
interface EphemeralKeyDoc { _id: string; expiresAt: number }
interface AccountTokenDoc { _id: string; userId: string; createdAt: number; expiresAt: number | null }
interface AcceptedPolicyDoc { userId: string; policy: string; version: string }
interface PepperStateDoc { _id: 'current'; pepper: string; altPeppers: string[]; rotatedAt: number; requestCount: number }
/** Which generation of hash entries is the table of a pepper. */
interface HashSetDoc { _id: string; generation: string }
interface HashEntryDoc { pepper: string; generation: string; hash: string; mxid: string }
interface OnbindDoc {
  _id: string; destination: string; bodyJson: string; attempts: number; nextAttemptAt: number; lastError: string | null; createdAt: number;
}
interface ThirdPartyMappingDoc { server: string; pepper: string; hash: string; generation: string }

const DUPLICATE_KEY = 11000;
/** Values per $in list. */
const CHUNK = 1000;
/** Lookups retried when a replacement published a new hash table meanwhile (rare: one per rotation). */
const LOOKUP_ATTEMPTS = 5;

function text(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}
function texts(values: unknown, name: string): string[] {
  if (!Array.isArray(values)) throw new TypeError(`${name} must be a list of strings`);
  return values.map((value) => text(value, name));
}
function integer(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer`);
  return value;
}
function optionalText(value: unknown, name: string): string | null {
  return value === null ? null : text(value, name);
}
function optionalInteger(value: unknown, name: string): number | null {
  return value === null ? null : integer(value, name);
}
function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}
/** insertMany with ordered:false failed only because some documents were already there. */
function onlyDuplicates(error: unknown): boolean {
  if (!(error instanceof MongoBulkWriteError) || error.err || error.result?.getWriteConcernError()) return false;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return writeErrors.length > 0 && writeErrors.every((writeError) => writeError.code === DUPLICATE_KEY);
}
/**
 * An upsert racing another on a unique key can fail with a duplicate key error; run again it
 * matches the winner's document (the server retries some of these itself, not all).
 */
async function withUpsertRetry<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return write();
  }
}

const toSession = (d: SessionDoc): ValidationSession => ({
  sid: d._id, medium: d.medium, address: d.address, clientSecret: d.clientSecret, tokenHash: d.tokenHash, sendAttempt: d.sendAttempt,
  nextLink: d.nextLink, createdAt: d.createdAt, updatedAt: d.updatedAt, validatedAt: d.validatedAt,
});
const toAssociation = (d: AssociationDoc): Association => ({
  medium: d.medium, address: d.address, mxid: d.mxid, ts: d.ts, notBefore: d.notBefore, notAfter: d.notAfter, signed: JSON.parse(d.signedJson),
});
const toInvite = (d: InviteDoc): PendingInvite => ({
  token: d._id, medium: d.medium, address: d.address, roomId: d.roomId, sender: d.sender, fields: JSON.parse(d.fieldsJson),
  ephemeralPublicKey: d.ephemeralPublicKey, createdAt: d.createdAt, expiresAt: d.expiresAt, deliveredAt: d.deliveredAt,
});
const toOnbind = (d: OnbindDoc): OnbindDelivery => ({
  id: d._id, destination: d.destination, body: JSON.parse(d.bodyJson), attempts: d.attempts, nextAttemptAt: d.nextAttemptAt,
  lastError: d.lastError, createdAt: d.createdAt,
});

export class MongoStore implements Store {
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly sessions: Collection<SessionDoc>;
  private readonly associations: Collection<AssociationDoc>;
  private readonly invites: Collection<InviteDoc>;
  private readonly ephemeralKeys: Collection<EphemeralKeyDoc>;
  private readonly accountTokens: Collection<AccountTokenDoc>;
  private readonly acceptedPolicies: Collection<AcceptedPolicyDoc>;
  private readonly pepperState: Collection<PepperStateDoc>;
  private readonly hashSets: Collection<HashSetDoc>;
  private readonly hashEntries: Collection<HashEntryDoc>;
  private readonly onbindQueue: Collection<OnbindDoc>;
  private readonly thirdPartyMappings: Collection<ThirdPartyMappingDoc>;

  constructor(uri: string, databaseName: string) {
    if (!uri) throw new Error('storage.mongodb.uri is required when storage.backend is mongodb');
    this.client = new MongoClient(uri);
    this.db = this.client.db(databaseName);
    this.sessions = this.db.collection('sessions');
    this.associations = this.db.collection('associations');
    this.invites = this.db.collection('invites');
    this.ephemeralKeys = this.db.collection('ephemeral_keys');
    this.accountTokens = this.db.collection('account_tokens');
    this.acceptedPolicies = this.db.collection('accepted_policies');
    this.pepperState = this.db.collection('pepper_state');
    this.hashSets = this.db.collection('hash_sets');
    this.hashEntries = this.db.collection('hash_entries');
    this.onbindQueue = this.db.collection('onbind_queue');
    this.thirdPartyMappings = this.db.collection('third_party_mappings');
  }

  async init(): Promise<void> {
    await this.client.connect();
    // createIndexes is a no-op for an index that already exists with the same spec.
    await Promise.all([
      this.sessions.createIndexes([
        { key: { medium: 1, address: 1, clientSecret: 1 }, name: 'threepid_secret', unique: true },
        { key: { updatedAt: 1 }, name: 'updated' },
      ]),
      this.associations.createIndexes([{ key: { medium: 1, address: 1 }, name: 'threepid', unique: true }]),
      this.invites.createIndexes([
        { key: { medium: 1, address: 1, expiresAt: 1 }, name: 'threepid_expiry' },
        { key: { expiresAt: 1 }, name: 'expiry' },
      ]),
      this.ephemeralKeys.createIndexes([{ key: { expiresAt: 1 }, name: 'expiry' }]),
      this.accountTokens.createIndexes([{ key: { expiresAt: 1 }, name: 'expiry' }, { key: { userId: 1, createdAt: -1 }, name: 'user_created' }]),
      this.acceptedPolicies.createIndexes([{ key: { userId: 1, policy: 1, version: 1 }, name: 'user_policy_version', unique: true }]),
      this.hashEntries.createIndexes([
        { key: { generation: 1, hash: 1 }, name: 'generation_hash', unique: true },
        { key: { pepper: 1 }, name: 'pepper' },
      ]),
      this.onbindQueue.createIndexes([{ key: { nextAttemptAt: 1, createdAt: 1, _id: 1 }, name: 'due' }]),
      this.thirdPartyMappings.createIndexes([
        { key: { pepper: 1, hash: 1 }, name: 'pepper_hash' },
        { key: { server: 1, pepper: 1, generation: 1 }, name: 'server_pepper' },
      ]),
    ]);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Drops the whole database (tests: each run uses a fresh one). */
  async dropDatabase(): Promise<void> {
    await this.db.dropDatabase();
  }

  async createSession(s: ValidationSession): Promise<void> {
    await this.sessions.insertOne({
      _id: text(s.sid, 'sid'), medium: text(s.medium, 'medium'), address: text(s.address, 'address'),
      clientSecret: text(s.clientSecret, 'clientSecret'), tokenHash: text(s.tokenHash, 'tokenHash'), sendAttempt: integer(s.sendAttempt, 'sendAttempt'),
      nextLink: optionalText(s.nextLink, 'nextLink'), createdAt: integer(s.createdAt, 'createdAt'), updatedAt: integer(s.updatedAt, 'updatedAt'),
      validatedAt: optionalInteger(s.validatedAt, 'validatedAt'),
    });
  }

  async getSession(sid: string): Promise<ValidationSession | null> {
    const doc = await this.sessions.findOne({ _id: text(sid, 'sid') });
    return doc ? toSession(doc) : null;
  }

  async findSession(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null> {
    const doc = await this.sessions.findOne({
      medium: text(medium, 'medium'), address: text(address, 'address'), clientSecret: text(clientSecret, 'clientSecret'),
    });
    return doc ? toSession(doc) : null;
  }

  async updateSession(sid: string, changes: SessionChanges): Promise<void> {
    const set: Partial<SessionDoc> = {};
    if (changes.tokenHash !== undefined) set.tokenHash = text(changes.tokenHash, 'tokenHash');
    if (changes.sendAttempt !== undefined) set.sendAttempt = integer(changes.sendAttempt, 'sendAttempt');
    if (changes.nextLink !== undefined) set.nextLink = optionalText(changes.nextLink, 'nextLink');
    if (changes.updatedAt !== undefined) set.updatedAt = integer(changes.updatedAt, 'updatedAt');
    if (changes.validatedAt !== undefined) set.validatedAt = optionalInteger(changes.validatedAt, 'validatedAt');
    if (Object.keys(set).length === 0) return;
    await this.sessions.updateOne({ _id: text(sid, 'sid') }, { $set: set });
  }

  async deleteSession(sid: string): Promise<void> {
    await this.sessions.deleteOne({ _id: text(sid, 'sid') });
  }

  async deleteSessionsBefore(before: number): Promise<number> {
    return (await this.sessions.deleteMany({ updatedAt: { $lt: integer(before, 'before') } })).deletedCount;
  }

  async putAssociation(a: Association): Promise<void> {
    const doc: AssociationDoc = {
      medium: text(a.medium, 'medium'), address: text(a.address, 'address'), mxid: text(a.mxid, 'mxid'), ts: integer(a.ts, 'ts'),
      notBefore: integer(a.notBefore, 'notBefore'), notAfter: integer(a.notAfter, 'notAfter'), signedJson: JSON.stringify(a.signed),
    };
    await withUpsertRetry(() => this.associations.replaceOne({ medium: doc.medium, address: doc.address }, doc, { upsert: true }));
  }

  async getAssociation(medium: Medium, address: string): Promise<Association | null> {
    const doc = await this.associations.findOne({ medium: text(medium, 'medium'), address: text(address, 'address') });
    return doc ? toAssociation(doc) : null;
  }

  async getAssociations(threepids: ThreePid[]): Promise<Association[]> {
    // One $in per medium (in practice: email, msisdn) rather than an $or of every pair.
    const byMedium = new Map<string, Set<string>>();
    for (const t of threepids) {
      const medium = text(t.medium, 'medium');
      const addresses = byMedium.get(medium) ?? new Set<string>();
      addresses.add(text(t.address, 'address'));
      byMedium.set(medium, addresses);
    }
    const out: Association[] = [];
    for (const [medium, addresses] of byMedium) {
      for (const chunk of chunks([...addresses])) {
        const docs = await this.associations.find({ medium, address: { $in: chunk } }).toArray();
        out.push(...docs.map(toAssociation));
      }
    }
    return out;
  }

  async deleteAssociation(medium: Medium, address: string, mxid: string): Promise<boolean> {
    const result = await this.associations.deleteOne({ medium: text(medium, 'medium'), address: text(address, 'address'), mxid: text(mxid, 'mxid') });
    return result.deletedCount > 0;
  }

  async *streamAssociations(): AsyncIterable<Association> {
    // Leaving the loop early closes the cursor (for await calls its return()).
    for await (const doc of this.associations.find({}, { batchSize: 1000 })) yield toAssociation(doc);
  }

  async putInvite(i: PendingInvite): Promise<void> {
    await this.invites.insertOne({
      _id: text(i.token, 'token'), medium: text(i.medium, 'medium'), address: text(i.address, 'address'), roomId: text(i.roomId, 'roomId'),
      sender: text(i.sender, 'sender'), fieldsJson: JSON.stringify(i.fields), ephemeralPublicKey: text(i.ephemeralPublicKey, 'ephemeralPublicKey'),
      createdAt: integer(i.createdAt, 'createdAt'), expiresAt: integer(i.expiresAt, 'expiresAt'),
      deliveredAt: optionalInteger(i.deliveredAt, 'deliveredAt'),
    });
  }

  async getInvite(token: string): Promise<PendingInvite | null> {
    const doc = await this.invites.findOne({ _id: text(token, 'token') });
    return doc ? toInvite(doc) : null;
  }

  async findInvites(medium: Medium, address: string, now: number): Promise<PendingInvite[]> {
    const docs = await this.invites
      .find({ medium: text(medium, 'medium'), address: text(address, 'address'), expiresAt: { $gt: integer(now, 'now') }, deliveredAt: null })
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    return docs.map(toInvite);
  }

  async deleteInvite(token: string): Promise<void> {
    await this.invites.deleteOne({ _id: text(token, 'token') });
  }

  async markInvitesDelivered(tokens: string[], at: number): Promise<void> {
    const deliveredAt = integer(at, 'at');
    for (const chunk of chunks(texts(tokens, 'token'))) await this.invites.updateMany({ _id: { $in: chunk } }, { $set: { deliveredAt } });
  }

  async deleteInvitesBefore(expiresBefore: number): Promise<number> {
    const before = integer(expiresBefore, 'expiresBefore');
    await this.ephemeralKeys.deleteMany({ expiresAt: { $lt: before } });
    return (await this.invites.deleteMany({ expiresAt: { $lt: before } })).deletedCount;
  }

  async putEphemeralKey(publicKey: string, expiresAt: number): Promise<void> {
    await withUpsertRetry(() => this.ephemeralKeys.updateOne(
      { _id: text(publicKey, 'publicKey') }, { $set: { expiresAt: integer(expiresAt, 'expiresAt') } }, { upsert: true },
    ));
  }

  async isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean> {
    const doc = await this.ephemeralKeys.findOne({ _id: text(publicKey, 'publicKey'), expiresAt: { $gt: integer(now, 'now') } });
    return doc !== null;
  }

  async putAccountToken(t: AccountToken): Promise<void> {
    await this.accountTokens.insertOne({
      _id: text(t.tokenHash, 'tokenHash'), userId: text(t.userId, 'userId'), createdAt: integer(t.createdAt, 'createdAt'),
      expiresAt: optionalInteger(t.expiresAt, 'expiresAt'),
    });
  }

  async getAccountToken(tokenHash: string): Promise<AccountToken | null> {
    const doc = await this.accountTokens.findOne({ _id: text(tokenHash, 'tokenHash') });
    return doc ? { tokenHash: doc._id, userId: doc.userId, createdAt: doc.createdAt, expiresAt: doc.expiresAt } : null;
  }

  async deleteAccountToken(tokenHash: string): Promise<void> {
    await this.accountTokens.deleteOne({ _id: text(tokenHash, 'tokenHash') });
  }

  async deleteAccountTokensBefore(expiresBefore: number): Promise<number> {
    // $lt on a number never matches null (comparisons stay within one BSON type): tokens without expiry stay.
    return (await this.accountTokens.deleteMany({ expiresAt: { $lt: integer(expiresBefore, 'expiresBefore') } })).deletedCount;
  }

  async deleteOldestAccountTokens(userId: string, keep: number): Promise<number> {
    const beyond = await this.accountTokens.find({ userId: text(userId, 'userId') }, { projection: { _id: 1 } })
      .sort({ createdAt: -1, _id: -1 }).skip(integer(keep, 'keep')).toArray();
    if (beyond.length === 0) return 0;
    return (await this.accountTokens.deleteMany({ _id: { $in: beyond.map((doc) => doc._id) } })).deletedCount;
  }

  async acceptPolicies(userId: string, policies: AcceptedPolicy[]): Promise<void> {
    if (policies.length === 0) return;
    const user = text(userId, 'userId');
    const docs = policies.map((p) => ({ userId: user, policy: text(p.policy, 'policy'), version: text(p.version, 'version') }));
    try {
      await this.acceptedPolicies.insertMany(docs, { ordered: false });
    } catch (error) {
      if (!onlyDuplicates(error)) throw error;
    }
  }

  async getAcceptedPolicies(userId: string): Promise<AcceptedPolicy[]> {
    const docs = await this.acceptedPolicies.find({ userId: text(userId, 'userId') }).sort({ policy: 1, version: 1 }).toArray();
    return docs.map((d) => ({ policy: d.policy, version: d.version }));
  }

  async getPepperState(): Promise<PepperState | null> {
    const doc = await this.pepperState.findOne({ _id: 'current' });
    return doc ? { pepper: doc.pepper, altPeppers: doc.altPeppers, rotatedAt: doc.rotatedAt, requestCount: doc.requestCount } : null;
  }

  async swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean> {
    const state = {
      pepper: text(next.pepper, 'pepper'), altPeppers: texts(next.altPeppers, 'altPeppers'),
      rotatedAt: integer(next.rotatedAt, 'rotatedAt'), requestCount: integer(next.requestCount, 'requestCount'),
    };
    if (expectedPepper === null) {
      // The first instance to insert the single state document wins; the others get a duplicate key.
      try {
        await this.pepperState.insertOne({ _id: 'current', ...state });
        return true;
      } catch (error) {
        if (isDuplicateKey(error)) return false;
        throw error;
      }
    }
    const result = await this.pepperState.updateOne({ _id: 'current', pepper: text(expectedPepper, 'expectedPepper') }, { $set: state });
    return result.matchedCount === 1;
  }

  async incrementPepperRequests(pepper: string): Promise<number> {
    const doc = await this.pepperState.findOneAndUpdate(
      { _id: 'current', pepper: text(pepper, 'pepper') }, { $inc: { requestCount: 1 } }, { returnDocument: 'after' },
    );
    return doc?.requestCount ?? 0;
  }

  async replaceHashes(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void> {
    const name = text(pepper, 'pepper');
    const generation = randomUUID();
    try {
      for await (const batch of entries) {
        if (batch.length === 0) continue;
        const docs = batch.map((e) => ({ pepper: name, generation, hash: text(e.hash, 'hash'), mxid: text(e.mxid, 'mxid') }));
        try {
          await this.hashEntries.insertMany(docs, { ordered: false });
        } catch (error) {
          if (!onlyDuplicates(error)) throw error; // a repeated hash keeps the mxid written first
        }
      }
    } catch (error) {
      await this.hashEntries.deleteMany({ generation });
      throw error;
    }
    const previous = await withUpsertRetry(() => this.hashSets.findOneAndUpdate(
      { _id: name }, { $set: { generation } }, { upsert: true, returnDocument: 'before' },
    ));
    if (previous) await this.hashEntries.deleteMany({ generation: previous.generation });
  }

  async lookupHashes(pepper: string, hashes: string[]): Promise<HashEntry[]> {
    const name = text(pepper, 'pepper');
    const wanted = chunks([...new Set(texts(hashes, 'hash'))]);
    if (wanted.length === 0) return [];
    for (let attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
      const set = await this.hashSets.findOne({ _id: name });
      if (!set) return [];
      const out: HashEntry[] = [];
      for (const chunk of wanted) {
        const docs = await this.hashEntries.find({ generation: set.generation, hash: { $in: chunk } }, { projection: { _id: 0, hash: 1, mxid: 1 } }).toArray();
        out.push(...docs.map((d) => ({ hash: d.hash, mxid: d.mxid })));
      }
      // The previous table is deleted only after the pointer moves: an unmoved pointer means
      // nothing of this generation was deleted while it was read.
      const after = await this.hashSets.findOne({ _id: name });
      if (after?.generation === set.generation) return out;
    }
    throw new Error('the hash table kept being replaced during the lookup');
  }

  async deleteHashesExcept(peppers: string[]): Promise<void> {
    const keep = texts(peppers, 'pepper');
    // Pointers first: lookups then find no table rather than a table being deleted.
    await this.hashSets.deleteMany({ _id: { $nin: keep } });
    await this.hashEntries.deleteMany({ pepper: { $nin: keep } });
  }

  async enqueueOnbind(d: OnbindDelivery): Promise<void> {
    await this.onbindQueue.insertOne({
      _id: text(d.id, 'id'), destination: text(d.destination, 'destination'), bodyJson: JSON.stringify(d.body), attempts: integer(d.attempts, 'attempts'),
      nextAttemptAt: integer(d.nextAttemptAt, 'nextAttemptAt'), lastError: optionalText(d.lastError, 'lastError'), createdAt: integer(d.createdAt, 'createdAt'),
    });
  }

  async dueOnbind(now: number, limit: number): Promise<OnbindDelivery[]> {
    const max = integer(limit, 'limit');
    if (max <= 0) return []; // limit(0) would mean no limit
    const docs = await this.onbindQueue.find({ nextAttemptAt: { $lte: integer(now, 'now') } })
      .sort({ nextAttemptAt: 1, createdAt: 1, _id: 1 })
      .limit(max)
      .toArray();
    return docs.map(toOnbind);
  }

  async claimOnbind(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]> {
    const due = integer(now, 'now');
    const lease = integer(leaseUntil, 'leaseUntil');
    const max = integer(limit, 'limit');
    const claimed: OnbindDelivery[] = [];
    // One atomic findOneAndUpdate per delivery: whichever instance updates it first owns it.
    while (claimed.length < max) {
      const doc = await this.onbindQueue.findOneAndUpdate(
        { nextAttemptAt: { $lte: due } },
        { $set: { nextAttemptAt: lease } },
        { sort: { nextAttemptAt: 1, createdAt: 1, _id: 1 }, returnDocument: 'after' },
      );
      if (!doc) break;
      claimed.push(toOnbind(doc));
    }
    return claimed;
  }

  async rescheduleOnbind(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void> {
    await this.onbindQueue.updateOne({ _id: text(id, 'id') }, {
      $set: { attempts: integer(attempts, 'attempts'), nextAttemptAt: integer(nextAttemptAt, 'nextAttemptAt'), lastError: text(lastError, 'lastError') },
    });
  }

  async deleteOnbind(id: string): Promise<void> {
    await this.onbindQueue.deleteOne({ _id: text(id, 'id') });
  }

  async replaceThirdPartyMappings(server: string, pepper: string, hashes: string[]): Promise<void> {
    // New generation in, then the old one out: meanwhile lookups see old and new, never neither.
    const owner = text(server, 'server');
    const name = text(pepper, 'pepper');
    const generation = randomUUID();
    const docs = [...new Set(texts(hashes, 'hash'))].map((hash) => ({ server: owner, pepper: name, hash, generation }));
    for (const chunk of chunks(docs)) await this.thirdPartyMappings.insertMany(chunk);
    await this.thirdPartyMappings.deleteMany({ server: owner, pepper: name, generation: { $ne: generation } });
  }

  async lookupThirdPartyMappings(pepper: string, hashes: string[]): Promise<Record<string, string[]>> {
    const name = text(pepper, 'pepper');
    const byServer = new Map<string, Set<string>>();
    for (const chunk of chunks([...new Set(texts(hashes, 'hash'))])) {
      const docs = await this.thirdPartyMappings.find({ pepper: name, hash: { $in: chunk } }, { projection: { _id: 0, server: 1, hash: 1 } }).toArray();
      for (const d of docs) {
        const owned = byServer.get(d.server) ?? new Set<string>();
        owned.add(d.hash);
        byServer.set(d.server, owned);
      }
    }
    return Object.fromEntries([...byServer].map(([owner, owned]) => [owner, [...owned]]));
  }
}
