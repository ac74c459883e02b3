/**
 * Authentication of POST /lookups (see README.md, "Trust"). In onRequest, before the body is
 * read: the client's budget, then the claimed member (X-Matrix origin or X-Unisd-Member
 * origin), its allowed addresses, and a shared secret. In preHandler, once the body is there:
 * the X-Matrix signature, which covers the body, then the member's budget. Access tokens grant
 * nothing here: a Bearer header is refused like no header.
 */
import type { FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../../core/errors.js';
import { parseAuthParams, parseXMatrix, XMatrixVerifier } from '../../core/federation/x-matrix.js';
import { requesterKey, type RateLimiter } from '../../core/rate-limit.js';
import type { Member, Members } from './members.js';
import type { MemberKeys } from './member-keys.js';

export const SECRET_SCHEME = 'X-Unisd-Member';

export interface PushAuthDeps {
  members: Members;
  keys: MemberKeys;
  serverName: string;
  perClient: RateLimiter;
  perMember: RateLimiter;
}

export function pushAuth(deps: PushAuthDeps) {
  const verifier = new XMatrixVerifier(deps.keys, deps.serverName);
  const claimed = new WeakMap<FastifyRequest, { member: Member; signed: boolean }>();

  return {
    async onRequest(request: FastifyRequest): Promise<void> {
      deps.perClient.consume(requesterKey(request.ip));
      const header = request.headers.authorization;
      const xmatrix = typeof header === 'string' ? parseXMatrix(header) : null;
      const shared = typeof header === 'string' && !xmatrix ? parseAuthParams(header, SECRET_SCHEME) : null;
      const origin = xmatrix?.origin ?? shared?.get('origin');
      if (origin === undefined) throw unauthorized(`Pushes are authenticated by a member server's X-Matrix signature or ${SECRET_SCHEME} secret; access tokens do not grant them`);
      const member = deps.members.get(origin);
      if (!member) throw unauthorized(`${origin} is not a member of this hub`);
      if (!deps.members.allows(member, request.ip)) throw forbidden('M_FORBIDDEN', `${origin} may not push from this address`);
      if (xmatrix) {
        if (!member.signed) throw unauthorized(`${origin} pushes with its shared secret here, not with signatures`);
        if (xmatrix.destination !== undefined && xmatrix.destination !== deps.serverName) throw unauthorized(`The request is signed for ${xmatrix.destination}, not for this hub (${deps.serverName})`);
      } else {
        const secret = shared!.get('secret');
        if (secret === undefined || !deps.members.secretMatches(member, secret)) throw unauthorized('Invalid member secret');
      }
      claimed.set(request, { member, signed: xmatrix !== null });
    },

    async preHandler(request: FastifyRequest): Promise<void> {
      const { member, signed } = claimed.get(request)!;
      if (signed && await verifier.verify(request) !== member.server) throw unauthorized('Invalid X-Matrix signature');
      deps.perMember.consume(member.server);
    },

    /** The member an authenticated request comes from. */
    member(request: FastifyRequest): Member {
      return claimed.get(request)!.member;
    },
  };
}
