/**
 * MSC4004 hub: trusted member identity servers push the hashes they own (POST
 * /_matrix/identity/v2/lookups, in chunked snapshots per pepper), and hash lookup answers them
 * in `third_party_mappings`; hash_details lists `alt_lookup_peppers`, and answers members (their
 * push credentials let them through the v2 gate: IdentityApi.acceptCredentials). Hooks into the
 * lookup plugin through HashLookup.extend(). Snapshots live in the store (store.thirdParty), lookups
 * read an in-memory index of them (third-party-index.ts).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { RateLimiter } from '../../core/rate-limit.js';
import { runEvery } from '../../core/jobs.js';
import { setLongTimeout, type LongTimer } from '../../core/timers.js';
import { Members } from './members.js';
import { MemberKeys } from './member-keys.js';
import { pushAuth } from './auth.js';
import { PushService } from './push.js';
import { ThirdPartyIndex } from './third-party-index.js';
import { dropSilentMembers } from './silent-members.js';
import { HubMetrics } from './metrics.js';

/** The push body limit (the protocol's): 50,000 hashes of 43 characters and their quotes take 2.3 MB. */
export const PUSH_BODY_LIMIT = 4 * 1024 * 1024;

export default async function unifiedView(app: FastifyInstance): Promise<void> {
  const { config, store, events } = app;
  const settings = config.unifiedView;
  if (!app.hashLookup) throw new Error('unifiedView.enabled: needs hashing.enabled (third-party mappings are answered by hash lookup)');
  const { service, rotation } = app.hashLookup;
  const log = app.log.child({ component: 'unified-view' });

  const members = new Members(settings.members);
  const index = new ThirdPartyIndex(store.thirdParty, log);
  const { window } = settings.rateLimit;
  const perClient = new RateLimiter(settings.rateLimit.perClient, window, { name: 'unifiedView.rateLimit.perClient', metrics: app.metrics, store: app.limitStore });
  const perMember = new RateLimiter(settings.rateLimit.perMember, window, { name: 'unifiedView.rateLimit.perMember', metrics: app.metrics, store: app.limitStore });
  const auth = pushAuth({ members, keys: new MemberKeys(settings.members, log), serverName: config.server.name, perClient, perMember });
  const pushes = new PushService({ store: store.thirdParty, rotation, index, maxChunkHashes: settings.maxChunkHashes });
  const counted = new HubMetrics(app.metrics, { store: store.thirdParty, rotation, index, members: members.servers });

  app.post('/_matrix/identity/v2/lookups', {
    bodyLimit: PUSH_BODY_LIMIT,
    onRequest: auth.onRequest,
    preHandler: auth.preHandler,
    // Every refusal passes here, those of the hooks and the body parser (413) included.
    onError: async (_request, _reply, error) => counted.refused(error as FastifyError & { errcode?: string }),
  }, async (request) => {
    const result = await pushes.push(auth.member(request).server, request.body);
    counted.accepted(result.committed);
    return result;
  });
  // Members read hash_details with the credentials they push with (a member has no user token here).
  app.identityApi.acceptCredentials('GET', '/hash_details', auth.readsDetails);

  service.extend({
    details: () => ({ alt_lookup_peppers: rotation.liveAlternates() }),
    answer: (pepper, asked) => index.answer(pepper, asked),
  });

  // Mappings for a pepper leave with it: at a rotation (an alternate pushed out by
  // hashing.altPeppers.count) and when the alternates' lifetime ends.
  let retireTimer: LongTimer | null = null;
  const retainAccepted = async () => {
    await store.thirdParty.retainPeppers([rotation.pepper, ...rotation.liveAlternates()]);
    await index.sync();
  };
  const scheduleRetirement = () => {
    retireTimer?.clear();
    const at = rotation.rotatedAt + config.hashing.altPeppers.lifetime;
    retireTimer = setLongTimeout(() => {
      retainAccepted().catch((err) => log.error({ err: (err as Error).message }, 'dropping mappings of retired peppers failed'));
    }, Math.max(0, at - Date.now()));
  };
  events.on('pepper-rotated', () => {
    retainAccepted().catch((err) => log.error({ err: (err as Error).message }, 'dropping mappings of retired peppers failed'));
    scheduleRetirement();
  });

  const dropSilent = () => dropSilentMembers(store.thirdParty, members.servers, settings.memberTimeout, log);
  runEvery(app, 'following member snapshots', settings.syncInterval, async () => {
    await perClient.sweep();
    await perMember.sweep();
    await dropSilent();
    await index.sync();
  });
  app.addHook('onReady', async () => {
    // Not awaited: the first hash table may take a while (rotation.ready); pushes and lookups wait for it.
    rotation.ready.then(async () => {
      await dropSilent();
      await retainAccepted();
      scheduleRetirement();
    }).catch((err) => log.error({ err: (err as Error).message }, 'loading the members\' snapshots failed'));
  });
  app.addHook('onClose', async () => retireTimer?.clear());
}
