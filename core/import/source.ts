/**
 * What an importer reads from an old identity server (sydent, ma1sd), whatever its schema: rows
 * as the source holds them, each named by its table and row id for the report. Every reader
 * streams (a cursor, pages), so a source of any size is read in constant memory.
 */
import Database from 'better-sqlite3';

/** A source that cannot be read: reported as one line, like a configuration error. */
export class SourceError extends Error {}

/** Opens the SQLite file `path` read-only; a missing file is an error, never a new empty database. */
export function openReadOnly(path: string): Database.Database {
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new SourceError(`cannot open ${path} read-only: ${(err as Error).message}`);
  }
}

/** Where a row comes from, for the skip report (never its 3PID: the report may be shared). */
export interface RowRef {
  table: string;
  id: string;
}

export interface SourceBind extends RowRef {
  medium: string;
  /** As the source stored it (normalised by the importer). */
  address: string;
  /** null: the source's marker of a removed bind (sydent before v5). */
  mxid: string | null;
  ts: number;
  notBefore: number;
  notAfter: number;
  /** The signed association the source answered for it, parsed; null when it kept none. */
  signed: Record<string, unknown> | null;
}

export interface SourceInvite extends RowRef {
  token: string;
  medium: string;
  address: string;
  roomId: string;
  sender: string;
  /** The store-invite request's extra fields the source kept (room name, display names…). */
  fields: Record<string, unknown>;
  /** ms; null when the source keeps no date. */
  createdAt: number | null;
  /** ms; null when the source has no expiry of its own (the configured lifetime applies). */
  expiresAt: number | null;
  /** True when the source already handed it to a homeserver. */
  delivered: boolean;
}

export interface SourceEphemeralKey extends RowRef {
  publicKey: string;
  /** ms; null when unknown. */
  createdAt: number | null;
}

export interface SourceToken extends RowRef {
  /** The access token in clear, as these servers kept it (stored here only hashed). */
  token: string;
  userId: string;
  createdAt: number;
}

export interface SourceAcceptedTerms extends RowRef {
  userId: string;
  url: string;
}

export interface SourceSigningKey {
  /** Key version: `ed25519:<version>`. */
  version: string;
  seed: Uint8Array;
  /** Where it was read, for the report. */
  origin: string;
}

/** The tables an importer reads, with the name the report gives each. */
export interface ImportSource {
  kind: 'sydent' | 'ma1sd';
  /** Server name the source signed as (associations, invites), when its configuration says. */
  serverName: string | null;
  signingKey: SourceSigningKey | null;
  tables: {
    binds: string | null;
    invites: string | null;
    ephemeralKeys: string | null;
    tokens: string | null;
    terms: string | null;
    pepper: string | null;
  };
  binds(): AsyncIterable<SourceBind>;
  invites(): AsyncIterable<SourceInvite>;
  ephemeralKeys(): AsyncIterable<SourceEphemeralKey>;
  tokens(): AsyncIterable<SourceToken>;
  /** Ordered by user, so that each user's acceptances come together. */
  acceptedTerms(): AsyncIterable<SourceAcceptedTerms>;
  pepper(): Promise<string | null>;
  /** Rows the source holds that are not imported on purpose, with why (reported, not skipped). */
  notImported(): Promise<Array<{ table: string; rows: number; why: string }>>;
  close(): Promise<void>;
}
