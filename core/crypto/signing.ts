/**
 * Ed25519 keys and JSON signing (appendices: Signing Details, Checking for a Signature).
 */
import nacl from 'tweetnacl';
import { canonicalJson } from './canonical-json.js';
import { decodeBase64, encodeBase64 } from './base64.js';

export interface SigningKey {
  /** `ed25519:<version>` */
  keyId: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Unpadded standard base64 of publicKey. */
  publicKeyBase64: string;
}

export function signingKeyFromSeed(seed: Uint8Array, version = '0'): SigningKey {
  const pair = nacl.sign.keyPair.fromSeed(seed);
  return { keyId: `ed25519:${version}`, publicKey: pair.publicKey, secretKey: pair.secretKey, publicKeyBase64: encodeBase64(pair.publicKey) };
}

export function generateSigningKey(version = '0'): SigningKey {
  return signingKeyFromSeed(nacl.randomBytes(32), version);
}

export type Signatures = Record<string, Record<string, string>>;
export type Signed<T> = T & { signatures: Signatures };

/** Signs `object` as `entity` and returns a copy carrying the new signature beside any existing ones. */
export function signJson<T extends Record<string, unknown>>(object: T, entity: string, key: SigningKey): Signed<T> {
  const { signatures, unsigned, ...rest } = object as Record<string, unknown>;
  const signature = nacl.sign.detached(Buffer.from(canonicalJson(rest), 'utf8'), key.secretKey);
  const merged: Signatures = structuredClone((signatures as Signatures | undefined) ?? {});
  merged[entity] = { ...merged[entity], [key.keyId]: encodeBase64(signature) };
  return { ...rest, signatures: merged, ...(unsigned !== undefined ? { unsigned } : {}) } as Signed<T>;
}

/** True when `object` carries a valid signature by `entity` with the given key id and public key. */
export function verifyJsonSignature(object: Record<string, unknown>, entity: string, keyId: string, publicKey: Uint8Array): boolean {
  const signatures = object.signatures as Signatures | undefined;
  const encoded = signatures?.[entity]?.[keyId];
  if (typeof encoded !== 'string') return false;
  const signature = decodeBase64(encoded);
  if (!signature || signature.length !== nacl.sign.signatureLength || publicKey.length !== nacl.sign.publicKeyLength) return false;
  const { signatures: _s, unsigned: _u, ...rest } = object;
  try {
    return nacl.sign.detached.verify(Buffer.from(canonicalJson(rest), 'utf8'), signature, publicKey);
  } catch {
    return false;
  }
}
