/**
 * The long-term signing key lives in a file, in the format Synapse uses for its own keys
 * (`ed25519 <version> <unpadded base64 seed>`), created with a CSPRNG on first start, mode 0600.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { decodeBase64, encodeBase64 } from './base64.js';
import { signingKeyFromSeed, type SigningKey } from './signing.js';

export class KeyFileError extends Error {}

/**
 * `onCreate` is called when there was no key file and a new key was written. Processes starting
 * together (cluster workers, instances sharing the file) agree on one key: the file appears
 * whole or not at all (written aside, then hard-linked into place, which fails if another
 * process was first), and a process that loses the race reads the winner's key.
 */
export function loadOrCreateSigningKey(path: string, onCreate: () => void = () => {}): SigningKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyFileError(`cannot read signing key ${path}: ${(err as NodeJS.ErrnoException).code}`);
    const seed = nacl.randomBytes(32);
    mkdirSync(dirname(path), { recursive: true });
    const aside = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(aside, `ed25519 0 ${encodeBase64(seed)}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(aside, path);
    } catch (linkErr) {
      if ((linkErr as NodeJS.ErrnoException).code !== 'EEXIST') throw new KeyFileError(`cannot write signing key ${path}: ${(linkErr as NodeJS.ErrnoException).code}`);
      return loadOrCreateSigningKey(path, onCreate);
    } finally {
      rmSync(aside, { force: true });
    }
    onCreate();
    return signingKeyFromSeed(seed, '0');
  }
  const match = /^ed25519\s+([A-Za-z0-9_]+)\s+(\S+)\s*$/.exec(text.trim());
  const seed = match ? decodeBase64(match[2]) : null;
  if (!match || !seed || seed.length !== 32) throw new KeyFileError(`signing key ${path} is not of the form "ed25519 <version> <base64 seed>"`);
  return signingKeyFromSeed(seed, match[1]);
}
