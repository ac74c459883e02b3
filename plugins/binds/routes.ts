import type { FastifyRequest } from 'fastify';
import type { IdentityRoute } from '../../core/api.js';
import type { XMatrix } from '../../core/federation/types.js';
import { forbidden, missingParams } from '../../core/errors.js';
import type { BindService, UnbindProof } from './service.js';

const string = { type: 'string' };

interface UnbindBody {
  sid?: string;
  client_secret?: string;
  mxid: string;
  threepid: { medium: string; address: string };
}

const signedByHomeserver = (request: FastifyRequest): boolean =>
  typeof request.headers.authorization === 'string' && /^X-Matrix[ \t]/i.test(request.headers.authorization);

export function bindRoutes(binds: BindService, xmatrix: XMatrix): IdentityRoute[] {
  async function unbindProof(request: FastifyRequest, body: UnbindBody): Promise<UnbindProof> {
    if (signedByHomeserver(request)) return { homeserver: await xmatrix.verify(request) };
    const { sid, client_secret: clientSecret } = body;
    if (sid === undefined && clientSecret === undefined) {
      throw forbidden('M_FORBIDDEN', 'Unbinding needs a validated session (sid, client_secret) or a request signed by the user\'s homeserver');
    }
    if (sid === undefined || clientSecret === undefined) throw missingParams('sid and client_secret go together');
    return { session: { sid, clientSecret } };
  }

  return [
    {
      method: 'POST', url: '/3pid/bind',
      schema: {
        body: { type: 'object', required: ['sid', 'client_secret', 'mxid'], properties: { sid: string, client_secret: string, mxid: string } },
      },
      handler: async (request) => {
        const { sid, client_secret: clientSecret, mxid } = request.body as { sid: string; client_secret: string; mxid: string };
        return binds.bind(sid, clientSecret, mxid, request.account?.userId ?? null);
      },
    },
    {
      // Homeservers sign this request (X-Matrix) instead of sending a user's token: without a
      // bearer token the v2 gate lets it through, terms included; the handler checks the proof.
      method: 'POST', url: '/3pid/unbind', auth: 'optional',
      schema: {
        body: {
          type: 'object', required: ['mxid', 'threepid'],
          properties: {
            sid: string, client_secret: string, mxid: string,
            threepid: { type: 'object', required: ['medium', 'address'], properties: { medium: string, address: string } },
          },
        },
      },
      handler: async (request) => {
        const body = request.body as UnbindBody;
        await binds.unbind(body.threepid, body.mxid, await unbindProof(request, body));
        return {};
      },
    },
  ];
}
