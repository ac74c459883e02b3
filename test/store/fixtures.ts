/** Records the storage conformance suites write. */
import type { Association, HashEntry, OnbindDelivery, PendingInvite, PepperState, ValidationSession } from '../../core/store/port.js';

export const NOW = 1_700_000_000_000;

export const session = (over: Partial<ValidationSession> = {}): ValidationSession => ({
  sid: 'sid-1', medium: 'email', address: 'alice@example.com', clientSecret: 'secret-1', tokenHash: 'th-1', sendAttempt: 1,
  nextLink: null, createdAt: NOW, updatedAt: NOW, validatedAt: null, ...over,
});
export const association = (address: string, mxid: string, over: Partial<Association> = {}): Association => ({
  medium: 'email', address, mxid, ts: NOW, notBefore: NOW, notAfter: NOW + 1000,
  signed: { address, medium: 'email', mxid, signatures: { 'id.example.test': { 'ed25519:0': 'sig' } } }, ...over,
});
export const invite = (token: string, over: Partial<PendingInvite> = {}): PendingInvite => ({
  token, medium: 'email', address: 'bob@example.com', roomId: '!room:example.org', sender: '@alice:example.org',
  fields: { room_name: 'Lounge', 'dotted.key': 1, $dollar: 'kept as data' }, ephemeralPublicKey: `eph-${token}`,
  createdAt: NOW, expiresAt: NOW + 1000, deliveredAt: null, ...over,
});
export const delivery = (id: string, nextAttemptAt: number, createdAt = NOW): OnbindDelivery => ({
  id, destination: 'hs.example.org', body: { medium: 'email', address: 'bob@example.com', mxid: '@bob:hs.example.org' },
  attempts: 0, nextAttemptAt, lastError: null, createdAt,
});
export const pepperState = (pepper: string, over: Partial<PepperState> = {}): PepperState => ({
  pepper, altPeppers: [], rotatedAt: NOW, requestCount: 0, ...over,
});
export const entries = (count: number, prefix = 'h'): HashEntry[] =>
  Array.from({ length: count }, (_, i) => ({ hash: `${prefix}${i}`, mxid: `@user${i}:example.org` }));
export const sortBy = <T>(items: T[], key: (item: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

/** A value that would be a query operator if a backend let it through as an object. */
export const OPERATOR = { $ne: 'nothing' } as unknown as string;
