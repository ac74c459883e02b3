/**
 * The storage ports: everything unisd persists goes through one small interface per area
 * (./ports/<area>.ts), so a backend is swappable area by area. A backend (./sqlite/,
 * ./mongodb/) implements each port in its own file and assembles the set: `store.sessions`,
 * `store.binds`, … Times are milliseconds since the epoch. Secrets (tokens) are stored as
 * hashes by the callers. Every string argument is used as a value, never as a query operator.
 * Each port has its conformance suite (test/store/<area>.ts), run against every backend.
 *
 * Expiry: a record with `expiresAt` is valid while `expiresAt > now`; the deleteBefore(t)
 * purges remove records with `expiresAt < t`.
 */
import type { SessionStore } from './ports/sessions.js';
import type { BindStore } from './ports/binds.js';
import type { InviteStore } from './ports/invites.js';
import type { AccountTokenStore } from './ports/accounts.js';
import type { TermsStore } from './ports/terms.js';
import type { HashTableStore, PepperStore } from './ports/hashes.js';
import type { OnbindStore } from './ports/onbind.js';
import type { ThirdPartyMappingStore } from './ports/third-party.js';
import type { LeaseStore } from './ports/leases.js';
import type { ChangeLog } from './ports/changes.js';

export type { Medium, ThreePid } from './ports/threepid.js';
export type { SessionChanges, SessionStore, ValidationSession } from './ports/sessions.js';
export type { Association, BindStore } from './ports/binds.js';
export type { InviteFilter, InviteStore, PendingInvite } from './ports/invites.js';
export type { AccountToken, AccountTokenStore } from './ports/accounts.js';
export type { AcceptedPolicy, TermsStore } from './ports/terms.js';
export type { HashEntry, HashTableStore, PepperState, PepperStore } from './ports/hashes.js';
export type { OnbindDelivery, OnbindStore } from './ports/onbind.js';
export type { MemberState, ThirdPartyMappingStore } from './ports/third-party.js';
export type { LeaseStore } from './ports/leases.js';
export type { ChangeLog, ChangeRecord, StoreChange } from './ports/changes.js';

/** What a storage backend provides, opened and ready (its tables and indexes created). */
export interface Store {
  sessions: SessionStore;
  binds: BindStore;
  invites: InviteStore;
  accounts: AccountTokenStore;
  terms: TermsStore;
  peppers: PepperStore;
  /** The backend's hash tables (`hashing.hashStorageType: sql`). */
  hashes: HashTableStore;
  onbind: OnbindStore;
  thirdParty: ThirdPartyMappingStore;
  /** Work one instance among several does alone (rotation, purges). */
  leases: LeaseStore;
  /** What instances sharing the store tell each other (binds, unbinds, rotations). */
  changes: ChangeLog;
  /** Resolves when the backend answers a trivial request; rejects when it is closed or unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
