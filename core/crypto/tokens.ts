/** Secrets: every token comes from the CSPRNG; stored tokens are hashed; comparisons are constant-time. */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** A URL-safe token of `bytes` random bytes (charset [A-Za-z0-9_-], within the spec's [0-9a-zA-Z.=_-]). */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** A numeric code of `digits` digits, for SMS. */
export const randomDigits = (digits = 6): string => Array.from({ length: digits }, () => randomInt(10)).join('');

/** What is stored in place of a token: its SHA-256, hex. Tokens are high-entropy, so no salt is needed. */
export const hashSecret = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export function constantTimeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ba.length !== bb.length) {
    timingSafeEqual(ba, ba); // keep the timing independent of where the strings differ
    return false;
  }
  return timingSafeEqual(ba, bb);
}
