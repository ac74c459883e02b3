/**
 * Dropping members: those the configuration no longer lists, and those silent longer than
 * unifiedView.memberTimeout (a member pushes on a schedule; one that stopped may have users who
 * moved away, and the hub must not keep sending clients to it).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { ThirdPartyMappingStore } from '../../core/store/ports/third-party.js';

/** `timeout` 0: never silent. Returns the servers dropped. */
export async function dropSilentMembers(store: ThirdPartyMappingStore, configured: readonly string[], timeout: number, log: FastifyBaseLogger, now = Date.now()): Promise<string[]> {
  const lastPush = new Map<string, number>();
  for (const state of await store.members()) lastPush.set(state.server, Math.max(lastPush.get(state.server) ?? 0, state.pushedAt));
  const dropped: string[] = [];
  for (const [server, at] of lastPush) {
    const removed = !configured.includes(server);
    if (!removed && (timeout === 0 || now - at <= timeout)) continue;
    await store.dropServer(server);
    dropped.push(server);
    log.info({ member: server, reason: removed ? 'not configured' : 'silent' }, 'member dropped');
  }
  return dropped;
}
