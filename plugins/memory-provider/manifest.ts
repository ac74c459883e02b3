/** The memory provider plugin: identities written in the config (`memory.*`, ma1sd's section). */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { addFormat, checkKeys, isPlainObject, tryJson } from '../../core/config/formats.js';

const MEMORY_IDENTITIES_EXPECTED = 'a list of {username, threepids: [{medium, address}]}';
addFormat('memory-identities', MEMORY_IDENTITIES_EXPECTED, (v) => {
  checkMemoryIdentities(v);
  return true;
}, tryJson);

const MEDIA = ['email', 'msisdn'];

function checkMemoryIdentities(value: unknown): void {
  if (!Array.isArray(value)) throw new Error(`expected ${MEMORY_IDENTITIES_EXPECTED}`);
  value.forEach((identity: unknown, i) => {
    if (!isPlainObject(identity)) throw new Error(`[${i}]: expected {username, threepids}`);
    checkKeys(identity, ['username', 'threepids'], `[${i}].`);
    if (typeof identity.username !== 'string' || identity.username === '') {
      throw new Error(`[${i}].username: expected a localpart or a full Matrix ID`);
    }
    if (identity.threepids === undefined) return;
    if (!Array.isArray(identity.threepids)) throw new Error(`[${i}].threepids: expected a list of {medium, address}`);
    identity.threepids.forEach((threepid: unknown, j) => {
      const where = `[${i}].threepids[${j}]`;
      if (!isPlainObject(threepid)) throw new Error(`${where}: expected {medium, address}`);
      checkKeys(threepid, ['medium', 'address'], `${where}.`);
      if (typeof threepid.medium !== 'string' || !MEDIA.includes(threepid.medium)) throw new Error(`${where}.medium: expected ${MEDIA.join(' or ')}`);
      if (typeof threepid.address !== 'string' || threepid.address.trim() === '') throw new Error(`${where}.address: expected an address`);
    });
  });
}

const config = {
  memory: {
    enabled: { doc: 'Memory identity provider (identities written in this file).', format: 'boolean', default: false },
    hashEnabled: { doc: 'Let the memory provider feed hash lookup.', format: 'boolean', default: false },
    identities: { doc: 'List of {username, threepids: [{medium, address}]}.', format: 'memory-identities', default: [] as unknown[] },
  },
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'memory-provider',
  description: 'identity provider: identities written in the configuration (memory.identities)',
  config,
  example: `
memory:
  # Identities written here: the reference provider, handy for tests and small setups.
  enabled: true
  # Let hash lookup see these identities.
  hashEnabled: true
  identities:
    - username: alice            # a localpart (needs matrix.domain) or a full @user:server
      threepids:
        - medium: email
          address: alice@example.org
        - medium: msisdn
          address: "441632960000"
    - username: "@bob:example.org"
      threepids:
        - medium: email
          address: bob@example.org
`,
  enabled: (c) => c.memory.enabled,
  plugin: () => import('./index.js'),
});
