/** What `unisd admin` prints for people (--json prints the result itself). */
import type { AdminResult, BindSummary, DeliverySummary, Erased, InviteSummary } from './service.js';

const time = (ms: number | null): string => (ms === null ? 'never' : new Date(ms).toISOString());
const lines = (...items: string[]): string => `${items.join('\n')}\n`;

const bindLine = (b: BindSummary): string => `  ${b.medium} ${b.address} → ${b.mxid} (bound ${time(b.boundAt)})`;
const inviteLine = (i: InviteSummary): string =>
  `  ${i.token}  ${i.medium} ${i.address}  room ${i.roomId}  from ${i.sender}  ${i.deliveredAt === null ? `pending until ${time(i.expiresAt)}` : `delivered ${time(i.deliveredAt)}`}`;
const deliveryLine = (d: DeliverySummary): string =>
  `  ${d.id}  to ${d.destination}${d.mxid ? ` for ${d.mxid}` : ''}  attempts ${d.attempts}  next ${time(d.nextAttemptAt)}${d.lastError ? `  last error: ${d.lastError}` : ''}`;

const ERASED_KINDS: Array<[keyof Erased, string]> = [
  ['binds', 'binds'],
  ['sessions', 'validation sessions'],
  ['invites', 'invites to the 3PIDs'],
  ['invitesSent', 'invites the user sent'],
  ['onbind', 'queued onbind deliveries'],
  ['tokens', 'access tokens'],
  ['terms', 'accepted terms'],
];

export function formatResult(result: AdminResult): string {
  switch (result.command) {
    case 'lookup':
      return lines(
        result.bind ? `${result.threepid.medium} ${result.threepid.address} is bound to ${result.bind.mxid} (since ${time(result.bind.boundAt)})` : `${result.threepid.medium} ${result.threepid.address} is not bound here`,
        `invites for it: ${result.invites.length}`, ...result.invites.map(inviteLine),
      );
    case 'binds':
      return lines(`${result.mxid}: ${result.binds.length} bind${result.binds.length === 1 ? '' : 's'}`, ...result.binds.map(bindLine));
    case 'unbind':
      return lines(`unbound ${result.threepid.medium} ${result.threepid.address} from ${result.mxid}`
        + (result.threepid.medium === 'email' ? `; unbind notice ${result.noticeSent ? 'mailed' : 'not sent (see the server log)'}` : ''));
    case 'tokens':
      return lines(`${result.mxid}: ${result.tokens.length} access token${result.tokens.length === 1 ? '' : 's'}`,
        ...result.tokens.map((t) => `  ${t.id}  created ${time(t.createdAt)}  expires ${time(t.expiresAt)}`));
    case 'tokens revoke':
      return lines(`revoked ${result.revoked} access token${result.revoked === 1 ? '' : 's'}`);
    case 'onbind list':
      return lines(`queued onbind deliveries: ${result.total}${result.total > result.deliveries.length ? ` (the ${result.deliveries.length} due first shown)` : ''}`,
        ...result.deliveries.map(deliveryLine));
    case 'onbind retry':
      return lines(`delivery ${result.id} is due now`);
    case 'onbind drop':
      return lines(`delivery ${result.id} dropped`);
    case 'invites list':
      return lines(`invites: ${result.invites.length}`, ...result.invites.map(inviteLine));
    case 'invites drop':
      return lines(`invite ${result.token} dropped`);
    case 'erase':
      return lines(`erased what was held for the ${result.subject === 'user' ? 'user' : '3PID'}:`,
        ...ERASED_KINDS.filter(([kind]) => result.erased[kind] !== undefined).map(([kind, label]) => `  ${label}: ${result.erased[kind]}`));
  }
}
