/**
 * Binds and unbinds. A bind stores the signed association verbatim (v1 lookups answer that very
 * object) and hands the 3PID's pending invites to the bound user's homeserver via 3pid/onbind.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { BindStore, ThreePid } from '../../core/store/port.js';
import type { SigningKey } from '../../core/crypto/signing.js';
import type { EventBus } from '../../core/events.js';
import type { Validation } from '../validation/types.js';
import type { Mailer } from '../email/types.js';
import type { InviteService } from '../invites/service.js';
import { onbindId, type OnbindQueue } from '../invites/onbind.js';
import { forbidden } from '../../core/errors.js';
import { normaliseAddress } from '../../core/threepid.js';
import { signJson } from '../../core/crypto/signing.js';
import { requireUserId } from '../../core/federation/server-name.js';
import { associationFields, signAssociation, type SignedAssociation } from './association.js';

export interface BindDeps {
  binds: BindStore;
  validation: Validation;
  invites: InviteService;
  onbind: OnbindQueue;
  mailer: Mailer;
  signingKey: SigningKey;
  serverName: string;
  events: EventBus;
  log: FastifyBaseLogger;
}

/** Who proved the right to unbind: the 3PID's owner (a validated session) or the user's homeserver. */
export type UnbindProof = { session: { sid: string; clientSecret: string } } | { homeserver: string };

export class BindService {
  constructor(private readonly deps: BindDeps) {}

  /**
   * Binds the session's 3PID to `mxid`, replacing any earlier bind of it. `requester` is the v2
   * token's user (null on v1): a user binds only themselves.
   */
  async bind(sid: string, clientSecret: string, mxid: string, requester: string | null): Promise<SignedAssociation> {
    const { binds, signingKey, serverName } = this.deps;
    const homeserver = requireUserId(mxid);
    if (requester !== null && requester !== mxid) throw forbidden('M_UNAUTHORIZED', 'A user can only bind their own Matrix ID');
    const session = await this.deps.validation.requireValidatedSession(sid, clientSecret);
    const threepid: ThreePid = { medium: session.medium, address: session.address };
    const ts = Date.now();
    const signed = signAssociation(threepid, mxid, ts, serverName, signingKey);
    await binds.put({ ...threepid, mxid, ts, notBefore: signed.not_before, notAfter: signed.not_after, signed });
    this.deps.events.emit('bind', { ...threepid, mxid });

    const invites = await this.deps.invites.invitesFor(threepid, mxid);
    if (invites.length === 0) return signed;
    // The invites travel signed with the association, to the bound user's homeserver (which
    // then joins them to the rooms); lookups keep answering the association alone.
    const withInvites = signJson({ ...associationFields(threepid, mxid, ts), invites }, serverName, signingKey);
    await this.deps.onbind.enqueue(onbindId(mxid, threepid, invites.map((invite) => invite.signed.token)), homeserver, withInvites);
    return withInvites;
  }

  /** Removes the bind of `threepid` to `mxid`, if there is one; the proof is checked first. */
  async unbind(threepid: ThreePid, mxid: string, proof: UnbindProof): Promise<void> {
    const homeserver = requireUserId(mxid);
    const normalised: ThreePid = { medium: threepid.medium, address: normaliseAddress(threepid.medium, threepid.address) };
    if ('homeserver' in proof) {
      if (proof.homeserver !== homeserver) throw forbidden('M_FORBIDDEN', 'A homeserver can only unbind its own users');
    } else {
      const session = await this.deps.validation.requireValidatedSession(proof.session.sid, proof.session.clientSecret);
      if (session.medium !== normalised.medium || session.address !== normalised.address) {
        throw forbidden('M_FORBIDDEN', 'The session was not validated for this 3PID');
      }
    }
    await removeBind(this.deps, normalised, mxid);
  }
}

export type RemoveBindDeps = Pick<BindDeps, 'binds' | 'events' | 'mailer' | 'log'>;

/**
 * Removes the bind of `threepid` (normalised) if it is to `mxid`, announces the unbind on the
 * event bus and waits for its listeners (the hash index forgets it) and mails the address's owner the unbind notice; also
 * what `unisd admin unbind` does. The unbind is done whether or not the mail goes out, so a mail
 * failure is only logged. Returns whether a bind was removed and, if so, whether the notice was sent.
 */
export async function removeBind(deps: RemoveBindDeps, threepid: ThreePid, mxid: string): Promise<{ removed: boolean; noticeSent: boolean }> {
  const removed = await deps.binds.delete(threepid.medium, threepid.address, mxid);
  if (!removed) return { removed, noticeSent: false };
  // Awaited: once the unbind is answered, lookups (the hash index too) no longer find it.
  await deps.events.emitAndWait('unbind', { medium: threepid.medium, address: threepid.address, mxid });
  if (threepid.medium !== 'email') return { removed, noticeSent: false };
  try {
    await deps.mailer.send('unbind', threepid.address, { address: threepid.address, medium: 'email', mxid });
    return { removed, noticeSent: true };
  } catch (err) {
    deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'unbind notice not sent');
    return { removed, noticeSent: false };
  }
}
