/**
 * Throwaway databases for the SQL provider suites: a PostgreSQL or MariaDB database with a unique
 * name (parallel runs do not clash), dropped after; a SQLite file in a temporary folder. Servers
 * come from UNISD_TEST_POSTGRES_URI / UNISD_TEST_MARIADB_URI; without them the suite skips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import mysql from 'mysql2/promise';
import Database from 'better-sqlite3';

export type TestDbKind = 'postgresql' | 'mariadb' | 'sqlite';

export interface TestDatabase {
  kind: TestDbKind;
  /** What `sql.connection` takes. */
  connection: string;
  /** Runs statements (setup only: these are the test's own, trusted texts). */
  exec(statements: string[]): Promise<void>;
  /** The first column of the first row of a query (setup and checks only). */
  scalar(sql: string): Promise<unknown>;
  drop(): Promise<void>;
}

export const SERVER_ENV: Record<Exclude<TestDbKind, 'sqlite'>, string> = {
  postgresql: 'UNISD_TEST_POSTGRES_URI',
  mariadb: 'UNISD_TEST_MARIADB_URI',
};

/** The reason a suite skips, or undefined when its database is available. */
export function unavailable(kind: TestDbKind): string | undefined {
  if (kind === 'sqlite') return undefined;
  return process.env[SERVER_ENV[kind]] ? undefined : `skipped: ${SERVER_ENV[kind]} is not set`;
}

const uniqueName = () => `unisd_test_${process.pid}_${randomBytes(4).toString('hex')}`;

export async function createTestDatabase(kind: TestDbKind): Promise<TestDatabase> {
  const name = uniqueName();
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'unisd-sql-'));
    const path = join(dir, `${name}.db`);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    return {
      kind, connection: path,
      exec: async (statements) => { for (const s of statements) db.exec(s); },
      scalar: async (sql) => db.prepare(sql).pluck().get(),
      drop: async () => { db.close(); rmSync(dir, { recursive: true, force: true }); },
    };
  }
  const server = new URL(process.env[SERVER_ENV[kind]]!);
  const url = new URL(server.href);
  url.pathname = `/${name}`;
  if (kind === 'postgresql') {
    const admin = new pg.Client({ connectionString: server.href });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const db = new pg.Client({ connectionString: url.href });
    await db.connect();
    return {
      kind, connection: url.href,
      exec: async (statements) => { for (const s of statements) await db.query(s); },
      scalar: async (sql) => Object.values((await db.query(sql)).rows[0] ?? {})[0],
      drop: async () => {
        await db.end();
        await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const admin = await mysql.createConnection({ uri: server.href });
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
  const db = await mysql.createConnection({ uri: url.href });
  return {
    kind, connection: url.href,
    exec: async (statements) => { for (const s of statements) await db.query(s); },
    scalar: async (sql) => Object.values(((await db.query(sql))[0] as Array<Record<string, unknown>>)[0] ?? {})[0],
    drop: async () => {
      await db.end();
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    },
  };
}

/** SQL producing the numbers 1..count as column n, in each database's own way. */
export function numbers(kind: TestDbKind, count: number): string {
  if (kind === 'postgresql') return `SELECT generate_series(1, ${count}) AS n`;
  if (kind === 'mariadb') return `SELECT seq AS n FROM seq_1_to_${count}`;
  return `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${count}) SELECT n FROM s`;
}

/** `a || b` in every dialect (MySQL reads || as OR). */
export function concat(kind: TestDbKind, ...parts: string[]): string {
  return kind === 'mariadb' ? `CONCAT(${parts.join(', ')})` : parts.join(' || ');
}
