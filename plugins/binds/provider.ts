/** The local binds (/3pid/bind) as an identity provider: first in priority, and a source for hash lookup. */
import type { IdentityProvider } from '../../core/providers/registry.js';
import type { Store, ThreePid } from '../../core/store/port.js';

export function localBindingsProvider(store: Store): IdentityProvider {
  return {
    name: 'local-bindings',
    priority: 0,
    lookup: async (threepid: ThreePid) => (await store.getAssociation(threepid.medium, threepid.address))?.mxid ?? null,
    bulkLookup: async (threepids: ThreePid[]) =>
      (await store.getAssociations(threepids)).map(({ medium, address, mxid }) => ({ medium, address, mxid })),
    streamAll: async function* () {
      for await (const { medium, address, mxid } of store.streamAssociations()) yield { medium, address, mxid };
    },
  };
}
