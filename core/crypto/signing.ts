/**
 * Ed25519 keys and JSON signing (appendices: Signing Details, Checking for a Signature).
 * Signing and checking run in node:crypto (OpenSSL): tweetnacl's pure-JS SHA-512 took a second
 * for a 2 MB object (an MSC4004 chunk of 50,000 hashes), OpenSSL 50 ms; both give the same
 * signature, ed25519 being deterministic. tweetnacl still derives key pairs from seeds.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
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

// DER prefixes of an Ed25519 PKCS#8 private key (before the 32-byte seed) and SPKI public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
const publicKeys = new WeakMap<Uint8Array, KeyObject>();

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  let key = privateKeys.get(secretKey);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
    privateKeys.set(secretKey, key);
  }
  return key;
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  let key = publicKeys.get(publicKey);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    publicKeys.set(publicKey, key);
  }
  return key;
}

export type Signatures = Record<string, Record<string, string>>;
export type Signed<T> = T & { signatures: Signatures };

/** Signs `object` as `entity` and returns a copy carrying the new signature beside any existing ones. */
export function signJson<T extends Record<string, unknown>>(object: T, entity: string, key: SigningKey): Signed<T> {
  const { signatures, unsigned, ...rest } = object as Record<string, unknown>;
  const signature = sign(null, Buffer.from(canonicalJson(rest), 'utf8'), privateKeyObject(key.secretKey));
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
    return verify(null, Buffer.from(canonicalJson(rest), 'utf8'), publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}
