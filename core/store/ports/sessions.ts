/** Storage of 3PID validation sessions (requestToken → submitToken). */
import type { Medium, ThreePid } from './threepid.js';

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

/** What update may change; an undefined field is left as it is. */
export type SessionChanges = Partial<Pick<ValidationSession, 'tokenHash' | 'sendAttempt' | 'nextLink' | 'updatedAt' | 'validatedAt'>>;

export interface SessionStore {
  /** Rejects when the sid or the (medium, address, clientSecret) triple already exists. */
  create(session: ValidationSession): Promise<void>;
  get(sid: string): Promise<ValidationSession | null>;
  /** The session for this (medium, address, clientSecret), if any (re-sends reuse it). */
  find(medium: Medium, address: string, clientSecret: string): Promise<ValidationSession | null>;
  update(sid: string, changes: SessionChanges): Promise<void>;
  delete(sid: string): Promise<void>;
  /** Deletes every session of that 3PID, validated or not, whatever its client secret; returns how many. */
  deleteFor(medium: Medium, address: string): Promise<number>;
  /** Deletes sessions whose updatedAt is before `before`; returns how many. */
  deleteBefore(before: number): Promise<number>;
}
