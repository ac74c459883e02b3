/**
 * The production backend: MongoDB through the official driver (v6), shared by several unisd
 * instances; one file per port beside this one. No multi-document transactions (they need a
 * replica set): every change that must look atomic is one conditional single-document write.
 */
import { MongoClient, type Db } from 'mongodb';
import type { Store } from '../port.js';
import { MongoSessions } from './sessions.js';
import { MongoBinds } from './binds.js';
import { MongoInvites } from './invites.js';
import { MongoAccountTokens } from './accounts.js';
import { MongoTerms } from './terms.js';
import { MongoHashTables, MongoPeppers } from './hashes.js';
import { MongoOnbind } from './onbind.js';
import { MongoThirdParty } from './third-party.js';
import { MongoLeases } from './leases.js';
import { MongoChanges } from './changes.js';

export interface MongoStore extends Store {
  /** Drops the whole database (tests: each run uses a fresh one). */
  dropDatabase(): Promise<void>;
}

/**
 * The database with every write waiting for a majority of the replica set and its journal
 * (w: majority, j: true): a write answered survives a failover and a power loss. Set on the
 * database, so that no URI option can weaken it.
 */
export function durableDatabase(client: MongoClient, name: string): Db {
  return client.db(name, { writeConcern: { w: 'majority', journal: true } });
}

/** Connects and creates the indexes (createIndexes is a no-op for an index that exists with the same spec). */
export async function openMongoStore(uri: string, databaseName: string): Promise<MongoStore> {
  if (!uri) throw new Error('storage.mongodb.uri is required when storage.backend is mongodb');
  const client = new MongoClient(uri);
  await client.connect();
  const db = durableDatabase(client, databaseName);
  const areas = {
    sessions: new MongoSessions(db),
    binds: new MongoBinds(db),
    invites: new MongoInvites(db),
    accounts: new MongoAccountTokens(db),
    terms: new MongoTerms(db),
    peppers: new MongoPeppers(db),
    hashes: new MongoHashTables(db),
    onbind: new MongoOnbind(db),
    thirdParty: new MongoThirdParty(db),
    leases: new MongoLeases(db),
    changes: new MongoChanges(db),
  };
  try {
    await Promise.all(Object.values(areas).map((area) => ('init' in area ? area.init() : undefined)));
  } catch (error) {
    await client.close();
    throw error;
  }
  return { ...areas, ping: async () => { await db.command({ ping: 1 }); }, close: () => client.close(), dropDatabase: async () => { await db.dropDatabase(); } };
}
