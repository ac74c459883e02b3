/**
 * `unifiedView.members`: the member identity servers a hub trusts (MSC4004), each by its server
 * name, how it authenticates (its ed25519 key, pinned or fetched from `url`; a shared secret)
 * and optionally the networks it may call from.
 */
import { decodeBase64 } from '../../core/crypto/base64.js';
import { parseAddressRange } from '../../core/federation/address-guard.js';
import { isPlainObject } from '../../core/config/formats.js';

export interface MemberConfig {
  /** The member's server.name: the key of its hashes in `mappings` and `third_party_mappings`. */
  server: string;
  /** Its base URL, where its signing keys are fetched (/_matrix/identity/v2/pubkey/<key id>). */
  url?: string;
  /** Its ed25519 public key (unpadded base64), pinned: no fetch. */
  publicKey?: string;
  /** A shared secret (X-Unisd-Member authorization). */
  secret?: string;
  /** Addresses or CIDR ranges it may push from; empty or absent: any. */
  allowedAddresses?: string[];
}

export const MEMBERS_EXPECTED = 'a list of {server, url?, publicKey?, secret?, allowedAddresses?}, each with publicKey or url (signed pushes) or secret';

const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
const HTTP_URL = /^https?:\/\/[^/\s?#]+(\/\S*)?$/;
const KEYS = ['server', 'url', 'publicKey', 'secret', 'allowedAddresses'];
/** A shared secret shorter than this is guessable. */
export const MIN_SECRET_LENGTH = 16;

export function checkMembers(value: unknown): void {
  const seen = new Set<string>();
  (value as unknown[]).forEach((member, i) => {
    if (!isPlainObject(member)) throw new Error(`[${i}]: expected ${MEMBERS_EXPECTED}`);
    const unknown = Object.keys(member).find((key) => !KEYS.includes(key));
    if (unknown) throw new Error(`[${i}].${unknown}: unknown key, expected one of ${KEYS.join(', ')}`);
    const { server, url, publicKey, secret, allowedAddresses } = member;
    if (typeof server !== 'string' || !SERVER_NAME.test(server)) throw new Error(`[${i}].server: expected a server name such as "id.example.org"`);
    if (seen.has(server)) throw new Error(`[${i}].server: expected each server once (${server} is listed before)`);
    seen.add(server);
    if (url !== undefined && (typeof url !== 'string' || !HTTP_URL.test(url))) throw new Error(`[${i}].url: expected an http(s) URL such as "https://id.example.org"`);
    if (publicKey !== undefined && (typeof publicKey !== 'string' || decodeBase64(publicKey)?.length !== 32)) {
      throw new Error(`[${i}].publicKey: expected an ed25519 public key in unpadded base64 (43 characters)`);
    }
    if (secret !== undefined && (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH)) {
      throw new Error(`[${i}].secret: expected text of at least ${MIN_SECRET_LENGTH} characters`);
    }
    if (url === undefined && publicKey === undefined && secret === undefined) throw new Error(`[${i}]: expected publicKey or url (signed pushes), or secret`);
    if (allowedAddresses !== undefined) {
      if (!Array.isArray(allowedAddresses)) throw new Error(`[${i}].allowedAddresses: expected a list of IP addresses or CIDR ranges`);
      allowedAddresses.forEach((entry, j) => {
        if (typeof entry !== 'string' || !parseAddressRange(entry)) throw new Error(`[${i}].allowedAddresses[${j}]: expected an IP address or CIDR range such as "10.0.0.0/8"`);
      });
    }
  });
}
