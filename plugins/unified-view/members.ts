/**
 * Who may push to this hub, and how each member proves it: the answer unisd gives to MSC4004's
 * open question (see README.md). Everything here is decided from the headers and the client
 * address, before the body is read; only an X-Matrix signature needs the body, and is checked
 * after it (auth.ts).
 */
import { BlockList, isIP } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseAddressRange } from '../../core/federation/address-guard.js';
import type { MemberConfig } from './config.js';

export interface Member {
  server: string;
  /** Signed pushes are accepted (a key pinned or fetchable). */
  signed: boolean;
  /** sha256 of the shared secret, or null: compared in constant time with the one presented. */
  secretDigest: Buffer | null;
  /** Where it may push from; null: anywhere. */
  addresses: BlockList | null;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class Members {
  private readonly byServer = new Map<string, Member>();

  constructor(configs: readonly MemberConfig[]) {
    for (const config of configs) {
      let addresses: BlockList | null = null;
      if (config.allowedAddresses && config.allowedAddresses.length > 0) {
        addresses = new BlockList();
        for (const entry of config.allowedAddresses) {
          const range = parseAddressRange(entry)!; // checked with the configuration
          if (range.prefix === null) addresses.addAddress(range.address, range.family);
          else addresses.addSubnet(range.address, range.prefix, range.family);
        }
      }
      this.byServer.set(config.server, {
        server: config.server,
        signed: config.publicKey !== undefined || config.url !== undefined,
        secretDigest: config.secret !== undefined ? digest(config.secret) : null,
        addresses,
      });
    }
  }

  get(server: string): Member | undefined {
    return this.byServer.get(server);
  }

  get servers(): string[] {
    return [...this.byServer.keys()];
  }

  /** True when `ip` (request.ip: the client, behind server.trustProxy) is one the member may push from. */
  allows(member: Member, ip: string): boolean {
    if (!member.addresses) return true;
    const version = isIP(ip);
    return version !== 0 && member.addresses.check(ip, version === 6 ? 'ipv6' : 'ipv4');
  }

  /** Constant-time: both sides are hashed to one length first, so neither length nor content leaks through timing. */
  secretMatches(member: Member, secret: string): boolean {
    return member.secretDigest !== null && timingSafeEqual(member.secretDigest, digest(secret));
  }
}
