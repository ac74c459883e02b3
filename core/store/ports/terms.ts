/** Storage of the terms (policies) each user accepted. */

export interface AcceptedPolicy {
  policy: string;
  version: string;
}

export interface TermsStore {
  /** Adds to what the user accepted; earlier acceptances stay. */
  accept(userId: string, policies: AcceptedPolicy[]): Promise<void>;
  /** Each (policy, version) once, sorted by policy then version. */
  accepted(userId: string): Promise<AcceptedPolicy[]>;
  /** Forgets everything the user accepted; returns how many (policy, version) acceptances went. */
  forget(userId: string): Promise<number>;
}
