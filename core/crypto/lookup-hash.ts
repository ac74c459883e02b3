/**
 * The lookup hash of the Identity Service API: unpadded URL-safe base64 of
 * sha256("<address> <medium> <pepper>"). node's one-shot crypto.hash is the fastest path
 * measured here (see bench/); this function is the hot path of hashing and rehashing.
 */
import * as crypto from 'node:crypto';

type OneShotHash = (algorithm: string, data: string, encoding: 'base64url') => string;
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

export const lookupHash: (address: string, medium: string, pepper: string) => string = oneShot
  ? (address, medium, pepper) => oneShot('sha256', `${address} ${medium} ${pepper}`, 'base64url')
  : (address, medium, pepper) => crypto.createHash('sha256').update(`${address} ${medium} ${pepper}`).digest('base64url');
