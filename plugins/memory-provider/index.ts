/**
 * The reference identity provider: identities written in the config (`memory.identities`).
 * Copy this folder to start a new provider.
 */
import type { FastifyInstance } from 'fastify';
import type { IdentityProvider, Mapping } from '../../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../../core/providers/provider.js';
import { threepidKey } from '../../core/providers/registry.js';
import type { ThreePid } from '../../core/store/port.js';
import { normaliseAddress } from '../../core/threepid.js';

interface MemoryIdentity {
  username: string;
  threepids?: Array<{ medium: string; address: string }>;
}

function toMxid(username: string, domain: string): string {
  return username.startsWith('@') ? username : `@${username}:${domain}`;
}

export function memoryProvider(identities: MemoryIdentity[], domain: string, hashEnabled: boolean): IdentityProvider {
  const byThreepid = new Map<string, Mapping>();
  for (const identity of identities) {
    for (const t of identity.threepids ?? []) {
      const mapping = { medium: t.medium, address: normaliseAddress(t.medium, t.address), mxid: toMxid(identity.username, domain) };
      byThreepid.set(threepidKey(mapping), mapping);
    }
  }
  return {
    name: 'memory',
    priority: 10,
    capabilities: { media: ['email', 'msisdn'], bulk: true, hashSource: hashEnabled },
    lookup: async (threepid: ThreePid) => byThreepid.get(threepidKey(threepid))?.mxid ?? null,
    bulkLookup: async (threepids: ThreePid[]) => threepids.flatMap((t) => byThreepid.get(threepidKey(t)) ?? []),
    ...(hashEnabled ? {
      mappings: async function* () {
        const all = [...byThreepid.values()];
        for (let i = 0; i < all.length; i += MAPPING_BATCH_SIZE) yield all.slice(i, i + MAPPING_BATCH_SIZE);
      },
    } : {}),
  };
}

export default async function memoryProviderPlugin(app: FastifyInstance): Promise<void> {
  const { memory, matrix } = app.config;
  const identities = memory.identities as MemoryIdentity[];
  if (identities.some((i) => !i.username.startsWith('@')) && !matrix.domain) {
    throw new Error('config error: memory.identities: usernames without a server need matrix.domain to be set');
  }
  app.providers.register(memoryProvider(identities, matrix.domain, memory.hashEnabled));
}
