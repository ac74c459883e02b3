/**
 * What `unisd admin` does, with no transport in it: run inside the server (requests from the
 * admin socket) or by the CLI on the store it opened itself when no server runs. Either way an
 * unbind or an erasure announces each removed bind on the event bus, so the hash index forgets
 * it at once.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Store, ThreePid } from '../../core/store/port.js';
import type { EventBus } from '../../core/events.js';
import type { Mailer } from '../email/types.js';
import { removeBind } from '../binds/service.js';
import { AdminInputError, type AdminRequest } from './protocol.js';

export interface AdminDeps {
  store: Store;
  events: EventBus;
  mailer: Mailer;
  log: FastifyBaseLogger;
  /** Called when a delivery was made due now (the server's queue then sends it at once). */
  onbindDue?: () => void;
}

export interface BindSummary extends ThreePid { mxid: string; boundAt: number }
export interface InviteSummary extends ThreePid {
  token: string; roomId: string; sender: string; createdAt: number; expiresAt: number; deliveredAt: number | null;
}
export interface DeliverySummary {
  id: string; destination: string; mxid: string | null; attempts: number; nextAttemptAt: number; lastError: string | null; createdAt: number;
}

/** What an erasure removed, per kind; the kinds a 3PID erasure has no part in are absent. */
export interface Erased {
  binds: number;
  sessions: number;
  invites: number;
  onbind: number;
  invitesSent?: number;
  tokens?: number;
  terms?: number;
}

export type AdminResult =
  | { command: 'lookup'; threepid: ThreePid; bind: BindSummary | null; invites: InviteSummary[] }
  | { command: 'binds'; mxid: string; binds: BindSummary[] }
  | { command: 'unbind'; threepid: ThreePid; mxid: string; noticeSent: boolean }
  | { command: 'tokens'; mxid: string; tokens: Array<{ id: string; createdAt: number; expiresAt: number | null }> }
  | { command: 'tokens revoke'; revoked: number }
  | { command: 'onbind list'; total: number; deliveries: DeliverySummary[] }
  | { command: 'onbind retry' | 'onbind drop'; id: string }
  | { command: 'invites list'; invites: InviteSummary[] }
  | { command: 'invites drop'; token: string }
  | { command: 'erase'; subject: 'user' | '3pid'; erased: Erased };

/** The invites of one lookup at most (they are listed in full with `invites list`). */
const LOOKUP_INVITES = 100;

const bindSummary = (a: { medium: string; address: string; mxid: string; ts: number }): BindSummary => ({ medium: a.medium, address: a.address, mxid: a.mxid, boundAt: a.ts });

export class AdminService {
  constructor(private readonly deps: AdminDeps) {}

  async run(request: AdminRequest): Promise<AdminResult> {
    const { store } = this.deps;
    switch (request.command) {
      case 'lookup': {
        const bind = await store.binds.get(request.threepid.medium, request.threepid.address);
        const invites = await store.invites.list({ threepid: request.threepid }, LOOKUP_INVITES);
        return { command: 'lookup', threepid: request.threepid, bind: bind && bindSummary(bind), invites: invites.map(inviteSummary) };
      }
      case 'binds':
        return { command: 'binds', mxid: request.mxid, binds: (await store.binds.byMxid(request.mxid)).map(bindSummary) };
      case 'unbind':
        return this.unbind(request.threepid);
      case 'tokens': {
        const tokens = await store.accounts.byUser(request.mxid);
        return { command: 'tokens', mxid: request.mxid, tokens: tokens.map((t) => ({ id: t.tokenHash, createdAt: t.createdAt, expiresAt: t.expiresAt })) };
      }
      case 'tokens revoke': {
        if ('mxid' in request) return { command: 'tokens revoke', revoked: await store.accounts.deleteByUser(request.mxid) };
        if (!await store.accounts.get(request.token)) throw new AdminInputError('no such token (the ids are listed by tokens --mxid)');
        await store.accounts.delete(request.token);
        return { command: 'tokens revoke', revoked: 1 };
      }
      case 'onbind list': {
        const deliveries = await store.onbind.due(Number.MAX_SAFE_INTEGER, request.limit);
        return { command: 'onbind list', total: await store.onbind.count(), deliveries: deliveries.map(deliverySummary) };
      }
      case 'onbind retry': {
        const delivery = await this.delivery(request.id);
        await store.onbind.reschedule(delivery.id, delivery.attempts, Date.now(), delivery.lastError ?? 'retried by unisd admin');
        this.deps.onbindDue?.();
        return { command: 'onbind retry', id: delivery.id };
      }
      case 'onbind drop':
        await store.onbind.delete((await this.delivery(request.id)).id);
        return { command: 'onbind drop', id: request.id };
      case 'invites list': {
        const invites = await store.invites.list({ threepid: request.threepid, sender: request.sender }, request.limit);
        return { command: 'invites list', invites: invites.map(inviteSummary) };
      }
      case 'invites drop':
        if (!await store.invites.get(request.token)) throw new AdminInputError('no such invite (the tokens are listed by invites list)');
        await store.invites.delete(request.token);
        return { command: 'invites drop', token: request.token };
      case 'erase':
        return 'mxid' in request
          ? { command: 'erase', subject: 'user', erased: await this.eraseUser(request.mxid) }
          : { command: 'erase', subject: '3pid', erased: await this.eraseThreepid(request.threepid) };
    }
  }

  /** Removes the bind of a 3PID, whoever it is to, as the API's unbind does (the mailed notice included). */
  private async unbind(threepid: ThreePid): Promise<AdminResult> {
    const bind = await this.deps.store.binds.get(threepid.medium, threepid.address);
    if (!bind) throw new AdminInputError('that 3PID is not bound');
    const { removed, noticeSent } = await removeBind({ ...this.deps, binds: this.deps.store.binds }, threepid, bind.mxid);
    // Rebound to someone else between the read and the delete: that bind is not the one asked about.
    if (!removed) throw new AdminInputError('that 3PID changed while it was being unbound; look it up again');
    return { command: 'unbind', threepid, mxid: bind.mxid, noticeSent };
  }

  /**
   * Everything held for a user: their binds (each announced as an unbind), what is held for the
   * 3PIDs they had bound (validation sessions, invites to them, queued deliveries), the
   * deliveries and invites that name them, their access tokens and the terms they accepted.
   * Each step is a deletion, so running it again after a failure finishes the work.
   */
  private async eraseUser(mxid: string): Promise<Erased> {
    const { store } = this.deps;
    const erased: Erased = { binds: 0, sessions: 0, invites: 0, onbind: 0, invitesSent: 0, tokens: 0, terms: 0 };
    for (const bind of await store.binds.byMxid(mxid)) {
      const threepid = { medium: bind.medium, address: bind.address };
      erased.binds += await this.forgetBind(threepid, mxid);
      this.add(erased, await this.forgetThreepid(threepid));
    }
    erased.onbind += await store.onbind.deleteConcerning({ mxid });
    erased.invitesSent = await store.invites.deleteMatching({ sender: mxid });
    erased.tokens = await store.accounts.deleteByUser(mxid);
    erased.terms = await store.terms.forget(mxid);
    this.deps.log.info({ kind: 'user', ...erased }, 'admin erase');
    return erased;
  }

  /** Everything held for a 3PID: its bind (announced as an unbind), sessions, invites to it, deliveries about it. */
  private async eraseThreepid(threepid: ThreePid): Promise<Erased> {
    const bind = await this.deps.store.binds.get(threepid.medium, threepid.address);
    const erased: Erased = { binds: bind ? await this.forgetBind(threepid, bind.mxid) : 0, sessions: 0, invites: 0, onbind: 0 };
    this.add(erased, await this.forgetThreepid(threepid));
    this.deps.log.info({ kind: '3pid', ...erased }, 'admin erase');
    return erased;
  }

  /** Deletes a bind without mailing anyone (an erasure is not an unbind the owner should hear of by mail). */
  private async forgetBind(threepid: ThreePid, mxid: string): Promise<number> {
    if (!await this.deps.store.binds.delete(threepid.medium, threepid.address, mxid)) return 0;
    await this.deps.events.emitAndWait('unbind', { medium: threepid.medium, address: threepid.address, mxid });
    return 1;
  }

  private async forgetThreepid(threepid: ThreePid): Promise<Pick<Erased, 'sessions' | 'invites' | 'onbind'>> {
    const { store } = this.deps;
    return {
      sessions: await store.sessions.deleteFor(threepid.medium, threepid.address),
      invites: await store.invites.deleteMatching({ threepid }),
      onbind: await store.onbind.deleteConcerning({ threepid }),
    };
  }

  private add(erased: Erased, more: Pick<Erased, 'sessions' | 'invites' | 'onbind'>): void {
    erased.sessions += more.sessions;
    erased.invites += more.invites;
    erased.onbind += more.onbind;
  }

  private async delivery(id: string) {
    const delivery = await this.deps.store.onbind.get(id);
    if (!delivery) throw new AdminInputError('no such delivery (the ids are listed by onbind list)');
    return delivery;
  }
}

function inviteSummary(i: { token: string; medium: string; address: string; roomId: string; sender: string; createdAt: number; expiresAt: number; deliveredAt: number | null }): InviteSummary {
  return { token: i.token, medium: i.medium, address: i.address, roomId: i.roomId, sender: i.sender, createdAt: i.createdAt, expiresAt: i.expiresAt, deliveredAt: i.deliveredAt };
}

function deliverySummary(d: { id: string; destination: string; body: Record<string, unknown>; attempts: number; nextAttemptAt: number; lastError: string | null; createdAt: number }): DeliverySummary {
  return {
    id: d.id, destination: d.destination, mxid: typeof d.body.mxid === 'string' ? d.body.mxid : null,
    attempts: d.attempts, nextAttemptAt: d.nextAttemptAt, lastError: d.lastError, createdAt: d.createdAt,
  };
}
