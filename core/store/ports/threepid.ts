/** The identifiers every storage port speaks of. */

export type Medium = 'email' | 'msisdn' | (string & {});

export interface ThreePid {
  medium: Medium;
  /** Normalised address (core/threepid.ts). */
  address: string;
}
