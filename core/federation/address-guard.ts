/**
 * The SSRF guard: outbound federation requests may only reach public addresses, so a remote
 * party naming a server cannot make unisd probe its own network. Addresses listed in
 * federation.allowedAddresses (IPs or CIDR ranges) are exempt. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are judged as the IPv4 address they carry (node's BlockList does this).
 */
import { BlockList, isIP } from 'node:net';

const REFUSED_RANGES: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // unspecified, "this network"
  ['10.0.0.0', 8, 'ipv4'], // private
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local (cloud metadata endpoints live here)
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.168.0.0', 16, 'ipv4'], // private
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'], // unspecified
  ['::1', 128, 'ipv6'], // loopback
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated, still routed internally in places)
  ['ff00::', 8, 'ipv6'], // multicast
];

export interface AddressRange {
  address: string;
  /** null: the single address. */
  prefix: number | null;
  family: 'ipv4' | 'ipv6';
}

/** "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8" → the range; null when the text is none of these. */
export function parseAddressRange(entry: string): AddressRange | null {
  const [address, prefixText, extra] = entry.trim().split('/');
  const version = isIP(address);
  const prefix = prefixText === undefined ? null : Number(prefixText);
  const maxPrefix = version === 6 ? 128 : 32;
  if (version === 0 || extra !== undefined || (prefix !== null && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= maxPrefix))) return null;
  return { address, prefix, family: version === 6 ? 'ipv6' : 'ipv4' };
}

export class AddressGuard {
  private readonly refused = new BlockList();
  private readonly allowed = new BlockList();

  /** `allowedAddresses`: IPs or CIDR ranges ("127.0.0.1", "10.0.0.0/8", "::1"). Throws on a malformed entry. */
  constructor(allowedAddresses: readonly string[] = []) {
    for (const [network, prefix, family] of REFUSED_RANGES) this.refused.addSubnet(network, prefix, family);
    for (const entry of allowedAddresses) {
      const range = parseAddressRange(entry);
      if (!range) throw new Error(`federation.allowedAddresses: "${entry}" is not an IP address or CIDR range`);
      if (range.prefix === null) this.allowed.addAddress(range.address, range.family);
      else this.allowed.addSubnet(range.address, range.prefix, range.family);
    }
  }

  /** True when unisd may connect to `address` (an IP). */
  permits(address: string): boolean {
    const version = isIP(address);
    if (version === 0) return false;
    const family = version === 6 ? 'ipv6' : 'ipv4';
    return this.allowed.check(address, family) || !this.refused.check(address, family);
  }
}
