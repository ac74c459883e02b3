/**
 * Authentication of members (see README.md, "Trust"), on POST /lookups and on GET
 * /hash_details. For a push, in onRequest, before the body is read: the client's budget, then the
 * claimed member (X-Matrix origin or X-Unisd-Member origin), its allowed addresses, and a shared
 * secret; in preHandler, once the body is there: the X-Matrix signature, which covers the body,
 * then the member's budget. Access tokens grant nothing here: a Bearer header is refused like no
 * header. hash_details (a bodyless GET) runs every check at once, and only for a request carrying
 * a member's header: any other goes to the user-token gate as before.
 */
import type { FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../../core/errors.js';
import { parseAuthParams, parseXMatrix, XMatrixVerifier, type XMatrixParams } from '../../core/federation/x-matrix.js';
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

/** The member scheme an Authorization header uses, with its parameters; null when it uses neither. */
interface Presented {
  origin: string | undefined;
  xmatrix: XMatrixParams | null;
  shared: Map<string, string> | null;
}

function presented(request: FastifyRequest): Presented | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const xmatrix = parseXMatrix(header);
  const shared = xmatrix ? null : parseAuthParams(header, SECRET_SCHEME);
  if (!xmatrix && !shared) return null;
  return { origin: xmatrix?.origin ?? shared?.get('origin'), xmatrix, shared };
}

export function pushAuth(deps: PushAuthDeps) {
  const verifier = new XMatrixVerifier(deps.keys, deps.serverName);
  const claimed = new WeakMap<FastifyRequest, { member: Member; signed: boolean }>();

  /** The checks that need no body: the member known, its address, its secret. */
  const claim = (request: FastifyRequest, header: Presented | null): { member: Member; signed: boolean } => {
    const origin = header?.origin;
    if (origin === undefined) throw unauthorized(`Pushes are authenticated by a member server's X-Matrix signature or ${SECRET_SCHEME} secret; access tokens do not grant them`);
    const member = deps.members.get(origin);
    if (!member) throw unauthorized(`${origin} is not a member of this hub`);
    if (!deps.members.allows(member, request.ip)) throw forbidden('M_FORBIDDEN', `${origin} may not push from this address`);
    const { xmatrix, shared } = header!;
    if (xmatrix) {
      if (!member.signed) throw unauthorized(`${origin} pushes with its shared secret here, not with signatures`);
      if (xmatrix.destination !== undefined && xmatrix.destination !== deps.serverName) throw unauthorized(`The request is signed for ${xmatrix.destination}, not for this hub (${deps.serverName})`);
    } else {
      const secret = shared!.get('secret');
      if (secret === undefined || !deps.members.secretMatches(member, secret)) throw unauthorized('Invalid member secret');
    }
    return { member, signed: xmatrix !== null };
  };

  const verifySignature = async (request: FastifyRequest, member: Member): Promise<void> => {
    if (await verifier.verify(request) !== member.server) throw unauthorized('Invalid X-Matrix signature');
  };

  return {
    async onRequest(request: FastifyRequest): Promise<void> {
      await deps.perClient.consume(requesterKey(request.ip));
      claimed.set(request, claim(request, presented(request)));
    },
    async preHandler(request: FastifyRequest): Promise<void> {
      const { member, signed } = claimed.get(request)!;
      if (signed) await verifySignature(request, member);
      await deps.perMember.consume(member.server);
    },
    /** The member an authenticated request comes from. */
    member(request: FastifyRequest): Member {
      return claimed.get(request)!.member;
    },
    /**
     * Server credentials of GET /hash_details (IdentityApi.acceptCredentials): false without a
     * member's header; with one, every check of a push, the client's budget included.
     */
    async readsDetails(request: FastifyRequest): Promise<boolean> {
      const header = presented(request);
      if (!header) return false;
      await deps.perClient.consume(requesterKey(request.ip));
      const { member, signed } = claim(request, header);
      if (signed) await verifySignature(request, member);
      return true;
    },
  };
}
