/**
 * The storage port: everything unisd persists goes through this interface, so a backend is
 * swappable (SqliteStore: embedded default; MongoStore: production and multi-instance).
 * Times are milliseconds since the epoch. Secrets (tokens) are stored as hashes by the callers.
 * Every backend passes test/store.test.ts; add a method here, then to every backend and that suite.
 */

export type Medium = 'email' | 'msisdn' | (string & {});

export interface ThreePid {
  medium: Medium;
  /** Normalised address (core/threepid.ts). */
  address: string;
}

/** A 3PID validation session (requestToken → submitToken). */
export interface ValidationSession extends ThreePid {
  sid: string;
  clientSecret: string;
  /** hashSecret() of the token sent to the user. */
  tokenHash: string;
  sendAttempt: number;
  nextLink: string | null;
  createdAt: number;
  /** Last change (creation, validation): the 24 h window runs from here. */
  updatedAt: number;
  validatedAt: number | null;
}

/** A bind: the signed association answered to /3pid/bind, kept verbatim for v1 lookups. */
export interface Association extends ThreePid {
  mxid: string;
  ts: number;
  notBefore: number;
  notAfter: number;
  /** The signed association object exactly as answered. */
  signed: Record<string, unknown>;
}

/** A pending invite from /store-invite. */
export interface PendingInvite extends ThreePid {
  /** The invite token (public: it appears in room state). */
  token: string;
  roomId: string;
  sender: string;
  /** The spec's display fields of the store-invite request (room_name, sender_display_name…), never the whole body. */
  fields: Record<string, unknown>;
  ephemeralPublicKey: string;
  createdAt: number;
  expiresAt: number;
  /**
   * When a homeserver accepted it through 3pid/onbind; null while pending. A delivered invite is
   * no longer pending but stays until it expires: sign-ed25519 still needs its token.
   */
  deliveredAt: number | null;
}

export interface AccountToken {
  /** hashSecret() of the access token. */
  tokenHash: string;
  userId: string;
  createdAt: number;
  /** null: never expires. */
  expiresAt: number | null;
}

export interface AcceptedPolicy {
  policy: string;
  version: string;
}

export interface PepperState {
  pepper: string;
  /** Previous peppers still accepted (MSC4004 alt_lookup_peppers), newest first. */
  altPeppers: string[];
  rotatedAt: number;
  /** Lookups served with the current pepper (rotationPolicy per_requests). */
  requestCount: number;
}

export interface HashEntry {
  hash: string;
  mxid: string;
}

/** A queued 3pid/onbind notification to a homeserver. */
export interface OnbindDelivery {
  id: string;
  /** Server name of the homeserver to deliver to. */
  destination: string;
  body: Record<string, unknown>;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
}

/** What updateSession may change; an undefined field is left as it is. */
export type SessionChanges = Partial<Pick<ValidationSession, 'tokenHash' | 'sendAttempt' | 'nextLink' | 'updatedAt' | 'validatedAt'>>;

/**
 * Expiry: a record with `expiresAt` is valid while `expiresAt > now`; the delete*Before(t)
 * purges remove records with `expiresAt < t`. Every string argument is used as a value, never as
 * a query operator (backends reject non-strings).
 */
export interface Store {
  /** Opens the connection and creates tables/indexes; idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;

  // Validation sessions
  /** Rejects when the sid or the (medium, address, clientSecret) triple already exists. */
  createSession(session: ValidationSession): Promise<void>;
  getSession(sid: string): Promise<ValidationSession | null>;
  /** The session for this (medium, address, clientSecret), if any (re-sends reuse it). */
  findSession(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null>;
  updateSession(sid: string, changes: SessionChanges): Promise<void>;
  deleteSession(sid: string): Promise<void>;
  /** Deletes sessions whose updatedAt is before `before`; returns how many. */
  deleteSessionsBefore(before: number): Promise<number>;

  // Associations (binds)
  /** Stores the bind, replacing any previous one for that 3PID. */
  putAssociation(association: Association): Promise<void>;
  getAssociation(medium: Medium, address: string): Promise<Association | null>;
  /** The binds among `threepids` (any number; unknown ones are absent), in no particular order. */
  getAssociations(threepids: ThreePid[]): Promise<Association[]>;
  /** Removes the bind of that 3PID if it is to `mxid`; true when one was removed. */
  deleteAssociation(medium: Medium, address: string, mxid: string): Promise<boolean>;
  /** Every bind, read in pages (safe to await between items). */
  streamAssociations(): AsyncIterable<Association>;

  // Invites and their ephemeral keys
  putInvite(invite: PendingInvite): Promise<void>;
  getInvite(token: string): Promise<PendingInvite | null>;
  /** The unexpired, undelivered invites for that 3PID, oldest first. */
  findInvites(medium: Medium, address: string, now: number): Promise<PendingInvite[]>;
  /** Removes one invite (its mail could not be sent). */
  deleteInvite(token: string): Promise<void>;
  /** Marks these invites delivered (unknown tokens are ignored). */
  markInvitesDelivered(tokens: string[], at: number): Promise<void>;
  /** Purges expired invites (returns how many) and expired ephemeral keys. */
  deleteInvitesBefore(expiresBefore: number): Promise<number>;
  /** Stores (or re-dates) an ephemeral public key (unpadded base64). */
  putEphemeralKey(publicKey: string, expiresAt: number): Promise<void>;
  isEphemeralKeyValid(publicKey: string, now: number): Promise<boolean>;

  // Account tokens
  putAccountToken(token: AccountToken): Promise<void>;
  getAccountToken(tokenHash: string): Promise<AccountToken | null>;
  deleteAccountToken(tokenHash: string): Promise<void>;
  /** Purges expired tokens; tokens with expiresAt null are never purged. */
  deleteAccountTokensBefore(expiresBefore: number): Promise<number>;
  /** Deletes the user's tokens but the `keep` newest (by createdAt); returns how many went. */
  deleteOldestAccountTokens(userId: string, keep: number): Promise<number>;

  // Terms
  /** Adds to what the user accepted; earlier acceptances stay. */
  acceptPolicies(userId: string, policies: AcceptedPolicy[]): Promise<void>;
  /** Each (policy, version) once, sorted by policy then version. */
  getAcceptedPolicies(userId: string): Promise<AcceptedPolicy[]>;

  // Hash lookup
  getPepperState(): Promise<PepperState | null>;
  /** Sets the pepper state if it still has `expectedPepper` (null: none yet); false when another instance won. */
  swapPepperState(expectedPepper: string | null, next: PepperState): Promise<boolean>;
  /** Counts one lookup served with `pepper` and returns the new count; 0 when `pepper` is not current. */
  incrementPepperRequests(pepper: string): Promise<number>;
  /**
   * Replaces every hash stored for `pepper` with `entries` (batches). Lookups keep seeing the
   * previous table until the new one is complete, then the whole new one; if `entries` throws,
   * the previous table stays. A hash repeated in `entries` keeps one of its mxids.
   */
  replaceHashes(pepper: string, entries: AsyncIterable<HashEntry[]> | Iterable<HashEntry[]>): Promise<void>;
  /** The entries among `hashes` (any number) in the table of `pepper`, in no particular order. */
  lookupHashes(pepper: string, hashes: string[]): Promise<HashEntry[]>;
  /** Drops the tables of every pepper not listed (an empty list drops all). */
  deleteHashesExcept(peppers: string[]): Promise<void>;

  // 3pid/onbind delivery queue
  enqueueOnbind(delivery: OnbindDelivery): Promise<void>;
  /** Up to `limit` deliveries with nextAttemptAt <= now, earliest first. */
  dueOnbind(now: number, limit: number): Promise<OnbindDelivery[]>;
  /**
   * Takes up to `limit` due deliveries for this process: atomically moves their nextAttemptAt to
   * `leaseUntil`, so another instance sharing the store does not send them too, and a process that
   * dies mid-delivery leaves them to be retried when the lease ends. Returns them as leased.
   */
  claimOnbind(now: number, leaseUntil: number, limit: number): Promise<OnbindDelivery[]>;
  rescheduleOnbind(id: string, attempts: number, nextAttemptAt: number, lastError: string): Promise<void>;
  deleteOnbind(id: string): Promise<void>;

  // MSC4004 third-party mappings: which hashes a trusted member server owns
  /** Replaces what `server` declared for `pepper`. */
  replaceThirdPartyMappings(server: string, pepper: string, hashes: string[]): Promise<void>;
  /** server → the hashes among `hashes` it owns. */
  lookupThirdPartyMappings(pepper: string, hashes: string[]): Promise<Record<string, string[]>>;
}
