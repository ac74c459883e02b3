/**
 * Rows to records for the SQL backends (./sqlite/, ./postgresql/), whose tables have the same
 * column names: each reads its rows with its own driver and maps them here.
 */
import type { SessionChanges, ValidationSession } from './ports/sessions.js';
import type { PendingInvite } from './ports/invites.js';
import type { OnbindDelivery } from './ports/onbind.js';

type Row = Record<string, any>;

export const toSession = (r: Row): ValidationSession => ({
  sid: r.sid, medium: r.medium, address: r.address, clientSecret: r.client_secret, tokenHash: r.token_hash,
  sendAttempt: r.send_attempt, nextLink: r.next_link, createdAt: r.created_at, updatedAt: r.updated_at, validatedAt: r.validated_at,
});

/** The column of each field a session update may change. */
export const SESSION_COLUMNS: Record<keyof SessionChanges, string> = {
  tokenHash: 'token_hash', sendAttempt: 'send_attempt', nextLink: 'next_link', updatedAt: 'updated_at', validatedAt: 'validated_at',
};

export const toInvite = (r: Row): PendingInvite => ({
  token: r.token, medium: r.medium, address: r.address, roomId: r.room_id, sender: r.sender, fields: JSON.parse(r.fields),
  ephemeralPublicKey: r.ephemeral_public_key, createdAt: r.created_at, expiresAt: r.expires_at, deliveredAt: r.delivered_at,
});

export const toOnbind = (r: Row): OnbindDelivery => ({
  id: r.id, destination: r.destination, body: JSON.parse(r.body), attempts: r.attempts, nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error, createdAt: r.created_at,
});

/** Third-party lookup rows ({server, hash}) grouped as server → hashes. */
export function hashesByServer(rows: Iterable<Row>, into = new Map<string, string[]>()): Map<string, string[]> {
  for (const row of rows) {
    const owned = into.get(row.server);
    if (owned) owned.push(row.hash);
    else into.set(row.server, [row.hash]);
  }
  return into;
}
