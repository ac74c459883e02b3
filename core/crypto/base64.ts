/** Unpadded base64 (the Matrix default) and its URL-safe variant. Decoding accepts both alphabets, padded or not. */
export const encodeBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64').replace(/=+$/, '');
export const encodeBase64Url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/** Decodes standard or URL-safe base64; null when the text is not base64 at all. */
export function decodeBase64(text: string): Uint8Array | null {
  if (typeof text !== 'string' || !BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) return null;
  return new Uint8Array(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}
