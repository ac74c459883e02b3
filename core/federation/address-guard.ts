/**
 * The SSRF guard: outbound federation requests may only reach public addresses, so a remote
 * party naming a server cannot make unisd probe its own network. Addresses listed in
 * federation.allowedAddresses (IPs or CIDR ranges) are exempt. IPv6 addresses that carry an
 * IPv4 address (IPv4-mapped and -compatible, SIIT, NAT64 64:ff9b::/96, 6to4 2002::/16) are
 * judged as that IPv4 address: a translator or relay would deliver them to it.
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
  ['64:ff9b:1::', 48, 'ipv6'], // local-use NAT64 (RFC 8215): a site's own translator
  ['2001::', 32, 'ipv6'], // Teredo: carries an obfuscated IPv4 address
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
    if (this.allowed.check(address, family)) return true;
    if (this.refused.check(address, family)) return false;
    const carried = version === 6 ? carriedIpv4(address) : null;
    return carried === null || this.permits(carried);
  }
}

/** The IPv4 address an IPv6 address carries (see the top of the file), or null. */
function carriedIpv4(address: string): string | null {
  const groups = ipv6Groups(address);
  const zero = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  const ipv4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  if (zero(0, 5) && (groups[5] === 0 || groups[5] === 0xffff)) return ipv4(groups[6], groups[7]); // ::a.b.c.d, ::ffff:a.b.c.d
  if (zero(0, 4) && groups[4] === 0xffff && groups[5] === 0) return ipv4(groups[6], groups[7]); // SIIT ::ffff:0:a.b.c.d
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return ipv4(groups[6], groups[7]); // NAT64 (RFC 6052)
  if (groups[0] === 0x2002) return ipv4(groups[1], groups[2]); // 6to4 (RFC 3056)
  return null;
}

/** The eight 16-bit groups of a valid IPv6 address (zone dropped, a dotted IPv4 tail converted). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  if (tail === undefined) return parse(head);
  const left = parse(head);
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
