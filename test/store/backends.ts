/**
 * The storage backends the conformance suites run against. Adding a backend is adding one
 * entry: how to open a fresh, empty store, and what to do after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Store } from '../../core/store/port.js';
import { openSqliteStore } from '../../core/store/sqlite/index.js';
import { openMongoStore } from '../../core/store/mongodb/index.js';
import { openPostgresStore, type PgOptions, type PostgresStore } from '../../core/store/postgresql/index.js';

export interface OpenedStore {
  store: Store;
  /** Closes the store and removes what it wrote. */
  dispose(): Promise<void>;
}

export interface Backend {
  name: string;
  /** Why the backend is not tested here (an environment variable is missing); else undefined. */
  skip?: string;
  open(): Promise<OpenedStore>;
}

let tempDir: string | undefined;
let files = 0;
/** A fresh directory per process for SQLite files, removed by `removeTempFiles`. */
const sqliteFile = (): string => join(tempDir ??= mkdtempSync(join(tmpdir(), 'unisd-store-')), `store-${files++}`, 'unisd.db');
export const removeTempFiles = (): void => { if (tempDir) rmSync(tempDir, { recursive: true, force: true }); };

const mongoUri = process.env.UNISD_TEST_MONGODB_URI;
const run = randomBytes(4).toString('hex');
let databases = 0;

export const postgresUri = process.env.UNISD_TEST_POSTGRES_URI;
let schemas = 0;
/** Options for a PostgreSQL store in a schema of its own, not created yet (dropPostgresSchema removes it). */
export const postgresOptions = (over: Partial<PgOptions> = {}): PgOptions => ({
  uri: postgresUri!, schema: `unisd_test_${run}_${schemas++}`, maxConnections: 5, connectionTimeout: 10_000, idleTimeout: 10_000, ...over,
});
/** Closes the store and drops its schema. */
export async function disposePostgres(store: PostgresStore): Promise<void> {
  await store.db.run(`DROP SCHEMA IF EXISTS "${store.db.schema}" CASCADE`);
  await store.close();
}

export const BACKENDS: Backend[] = [
  {
    name: 'sqlite :memory:',
    async open() {
      const store = await openSqliteStore(':memory:');
      return { store, dispose: () => store.close() };
    },
  },
  {
    name: 'sqlite file',
    async open() {
      const store = await openSqliteStore(sqliteFile());
      return { store, dispose: () => store.close() };
    },
  },
  {
    name: 'postgresql',
    skip: postgresUri ? undefined : 'set UNISD_TEST_POSTGRES_URI to run it',
    async open() {
      const store = await openPostgresStore(postgresOptions());
      return { store, dispose: () => disposePostgres(store) };
    },
  },
  {
    name: 'mongodb',
    skip: mongoUri ? undefined : 'set UNISD_TEST_MONGODB_URI to run it',
    async open() {
      const store = await openMongoStore(mongoUri!, `unisd_test_${run}_${databases++}`);
      return { store, dispose: async () => { await store.dropDatabase(); await store.close(); } };
    },
  },
];
