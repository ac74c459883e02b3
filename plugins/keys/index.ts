/**
 * Public keys: the long-term key by id, and validity checks for the long-term key and the
 * ephemeral keys handed out with invites. Key ids are compared, never used as paths.
 */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../core/errors.js';
import { decodeBase64, encodeBase64 } from '../../core/crypto/base64.js';

const publicKeyQuery = {
  querystring: { type: 'object', required: ['public_key'], properties: { public_key: { type: 'string' } } },
};

/** Standard or URL-safe, padded or not: the same key bytes are the same key. */
const sameKey = (candidate: string, publicKeyBase64: string): boolean => {
  const bytes = decodeBase64(candidate);
  return bytes !== null && encodeBase64(bytes) === publicKeyBase64;
};

export default async function keysPlugin(app: FastifyInstance): Promise<void> {
  const key = app.signingKey;
  app.identityApi.add(
    {
      method: 'GET', url: '/pubkey/isvalid', auth: 'none', schema: publicKeyQuery,
      handler: async (request) => ({ valid: sameKey((request.query as { public_key: string }).public_key, key.publicKeyBase64) }),
    },
    {
      method: 'GET', url: '/pubkey/ephemeral/isvalid', auth: 'none', schema: publicKeyQuery,
      handler: async (request) => {
        const bytes = decodeBase64((request.query as { public_key: string }).public_key);
        return { valid: bytes !== null && await app.store.invites.isEphemeralKeyValid(encodeBase64(bytes), Date.now()) };
      },
    },
    {
      method: 'GET', url: '/pubkey/:keyId', auth: 'none',
      handler: async (request) => {
        const { keyId } = request.params as { keyId: string };
        if (keyId !== key.keyId) throw notFound('M_NOT_FOUND', 'The public key was not found');
        return { public_key: key.publicKeyBase64 };
      },
    },
  );
}
