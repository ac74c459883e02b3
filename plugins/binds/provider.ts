/** The local binds (/3pid/bind) as an identity provider: first in priority, and a source for hash lookup. */
import type { IdentityProvider, Mapping } from '../../core/providers/provider.js';
import { MAPPING_BATCH_SIZE } from '../../core/providers/provider.js';
import type { BindStore, ThreePid } from '../../core/store/port.js';

export function localBindingsProvider(binds: BindStore): IdentityProvider {
  return {
    name: 'local-bindings',
    priority: 0,
    capabilities: { media: ['email', 'msisdn'], bulk: true, hashSource: true },
    lookup: async (threepid: ThreePid) => (await binds.get(threepid.medium, threepid.address))?.mxid ?? null,
    bulkLookup: async (threepids: ThreePid[]) =>
      (await binds.getMany(threepids)).map(({ medium, address, mxid }) => ({ medium, address, mxid })),
    mappings: async function* () {
      let batch: Mapping[] = [];
      for await (const { medium, address, mxid } of binds.stream()) {
        batch.push({ medium, address, mxid });
        if (batch.length === MAPPING_BATCH_SIZE) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },
  };
}
