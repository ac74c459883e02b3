/** Signed associations: what /3pid/bind answers and v1 lookups return. */
import type { ThreePid } from '../../core/store/port.js';
import { signJson, type SigningKey, type Signed } from '../../core/crypto/signing.js';

/** How long an association is asserted valid from its timestamp: 100 years, as the spec's example. */
export const ASSOCIATION_VALIDITY = 100 * 365 * 24 * 60 * 60 * 1000;

export interface AssociationFields extends ThreePid {
  mxid: string;
  ts: number;
  not_before: number;
  not_after: number;
  [extra: string]: unknown;
}

export type SignedAssociation = Signed<AssociationFields>;

export function associationFields(threepid: ThreePid, mxid: string, ts: number): AssociationFields {
  return { medium: threepid.medium, address: threepid.address, mxid, ts, not_before: ts, not_after: ts + ASSOCIATION_VALIDITY };
}

/** The association of `threepid` to `mxid` at `ts`, signed by this server. */
export const signAssociation = (threepid: ThreePid, mxid: string, ts: number, serverName: string, key: SigningKey): SignedAssociation =>
  signJson(associationFields(threepid, mxid, ts), serverName, key);
