/**
 * The long-term signing key lives in a file, in the format Synapse uses for its own keys
 * (`ed25519 <version> <unpadded base64 seed>`), created with a CSPRNG on first start, mode 0600.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import nacl from 'tweetnacl';
import { decodeBase64, encodeBase64 } from './base64.js';
import { signingKeyFromSeed, type SigningKey } from './signing.js';

export class KeyFileError extends Error {}

/** `onCreate` is called when there was no key file and a new key was written. */
export function loadOrCreateSigningKey(path: string, onCreate: () => void = () => {}): SigningKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyFileError(`cannot read signing key ${path}: ${(err as NodeJS.ErrnoException).code}`);
    const seed = nacl.randomBytes(32);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `ed25519 0 ${encodeBase64(seed)}\n`, { mode: 0o600, flag: 'wx' });
    onCreate();
    return signingKeyFromSeed(seed, '0');
  }
  const match = /^ed25519\s+([A-Za-z0-9_]+)\s+(\S+)\s*$/.exec(text.trim());
  const seed = match ? decodeBase64(match[2]) : null;
  if (!match || !seed || seed.length !== 32) throw new KeyFileError(`signing key ${path} is not of the form "ed25519 <version> <base64 seed>"`);
  return signingKeyFromSeed(seed, match[1]);
}
