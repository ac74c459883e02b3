import type { IdentityRoute } from '../../core/api.js';
import type { InviteRequest, InviteService } from './service.js';
import { requesterKey } from '../../core/rate-limit.js';

const string = { type: 'string' };

export function inviteRoutes(invites: InviteService): IdentityRoute[] {
  return [
    {
      // room_id's sigil is not checked: homeservers (and their tests) send other forms.
      method: 'POST', url: '/store-invite',
      schema: {
        body: {
          type: 'object', required: ['medium', 'address', 'room_id', 'sender'],
          properties: { medium: string, address: string, room_id: string, sender: string },
        },
      },
      handler: async (request) => invites.storeInvite(request.body as InviteRequest, request.account?.userId ?? null, request.account?.userId ?? requesterKey(request.ip)),
    },
    {
      method: 'POST', url: '/sign-ed25519',
      schema: {
        body: {
          type: 'object', required: ['mxid', 'token', 'private_key'],
          properties: { mxid: string, token: string, private_key: string },
        },
      },
      handler: async (request) => {
        const { mxid, token, private_key: privateKey } = request.body as { mxid: string; token: string; private_key: string };
        return invites.signWithEphemeralKey(mxid, token, privateKey);
      },
    },
  ];
}
