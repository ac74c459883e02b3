/**
 * The DNS lookups federation needs, behind a small interface so tests can answer them
 * (SRV records cannot be served from loopback without a DNS server).
 */
import { lookup, resolveSrv } from 'node:dns/promises';
import { FederationError } from './types.js';

export interface SrvTarget {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DnsResolver {
  /** SRV records of `name`; an empty list when there are none. */
  resolveSrv(name: string): Promise<SrvTarget[]>;
  /** The IP addresses of `hostname` (CNAME, AAAA and A records). */
  lookup(hostname: string): Promise<string[]>;
}

const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

export const systemDns: DnsResolver = {
  async resolveSrv(name) {
    try {
      return await resolveSrv(name);
    } catch (err) {
      if (NO_RECORDS.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
  },
  async lookup(hostname) {
    const addresses = await lookup(hostname, { all: true, verbatim: true });
    return addresses.map((entry) => entry.address);
  },
};

/**
 * `dns` with every lookup bounded by `timeout` ms: the system resolver may wait far longer, and a
 * connection attempt is not cancelled while its address is being looked up.
 */
export function withTimeout(dns: DnsResolver, timeout: number): DnsResolver {
  const bounded = <T>(what: string, pending: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FederationError(`the DNS lookup of ${what} did not answer within ${timeout} ms`, 'unreachable')), timeout);
    });
    return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
  };
  return {
    resolveSrv: (name) => bounded(name, dns.resolveSrv(name)),
    lookup: (hostname) => bounded(hostname, dns.lookup(hostname)),
  };
}

/**
 * Picks the target of an SRV answer (RFC 2782): lowest priority first, then at random weighted
 * by weight. Null when there is none, or when the record says the service is not offered (".").
 */
export function pickSrvTarget(records: SrvTarget[], random: () => number = Math.random): SrvTarget | null {
  if (records.length === 0) return null;
  const best = Math.min(...records.map((record) => record.priority));
  const candidates = records.filter((record) => record.priority === best);
  const total = candidates.reduce((sum, record) => sum + record.weight, 0);
  let chosen = candidates[0];
  if (total > 0) {
    let point = random() * total;
    chosen = candidates.find((record) => (point -= record.weight) < 0) ?? candidates[candidates.length - 1];
  }
  return chosen.name === '' || chosen.name === '.' ? null : { ...chosen, name: chosen.name.replace(/\.$/, '') };
}
