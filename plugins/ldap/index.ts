/**
 * The `ldap` plugin: builds the LDAP identity provider from the `ldap` config section and
 * registers it (the registry closes its connections when the app closes).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../core/config/types.js';
import { urlHost } from '../../core/federation/server-name.js';
import { operatorFilter } from './filters.js';
import { LdapPool } from './pool.js';
import { LdapProvider, type LdapMedium } from './provider.js';

const configError = (key: string, expected: string): Error => new Error(`config error: ${key}: ${expected}`);

/** ldap.connection.host (with port and tls) first, then ldap.connection.servers. */
export function serverUrls(connection: Config['ldap']['connection']): string[] {
  const first = connection.host ? [`${connection.tls ? 'ldaps' : 'ldap'}://${urlHost(connection.host)}:${connection.port}`] : [];
  return [...first, ...connection.servers];
}

export function ldapProvider(config: Config): LdapProvider {
  const { ldap, matrix } = config;
  const { connection } = ldap;
  const servers = serverUrls(connection);
  if (servers.length === 0) throw configError('ldap.connection.host', 'expected the LDAP server\'s host name (or ldap.connection.servers)');
  const baseDNs = [...connection.baseDNs, ...(connection.baseDn ? [connection.baseDn] : [])];
  if (baseDNs.length === 0) throw configError('ldap.connection.baseDNs', 'expected at least one base DN, such as "ou=people,dc=example,dc=org"');
  if (ldap.attribute.uid.value === '') throw configError('ldap.attribute.uid.value', 'expected the attribute holding the user ID, such as uid or sAMAccountName');
  if (ldap.attribute.uid.type === 'uid' && !matrix.domain) throw configError('matrix.domain', 'expected the Matrix domain: ldap.attribute.uid.type uid reads localparts');
  if (ldap.identity.token === '') throw configError('ldap.identity.token', 'expected the placeholder of the address in ldap.identity.medium queries, such as %3pid');
  const tls: ConnectionOptions = { rejectUnauthorized: connection.verifyTls };
  if (connection.ca) {
    try {
      tls.ca = readFileSync(connection.ca, 'utf8');
    } catch (err) {
      throw configError('ldap.connection.ca', `cannot read ${connection.ca}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const queries = ldap.identity.medium as Partial<Record<LdapMedium, string>>;
  return new LdapProvider({
    pool: new LdapPool({
      servers, startTls: connection.startTls, tls,
      bindDn: connection.bindDn, bindPassword: connection.bindPassword,
      timeout: connection.timeout, size: connection.poolSize,
    }),
    baseDNs,
    filter: operatorFilter(ldap.identity.filter || ldap.filter),
    uid: { type: ldap.attribute.uid.type as 'uid' | 'mxid', attribute: ldap.attribute.uid.value },
    domain: matrix.domain,
    attributes: { email: ldap.attribute.threepid.email, msisdn: ldap.attribute.threepid.msisdn },
    queries,
    token: ldap.identity.token,
    hashSource: ldap.lookup || ldap.identity.lookup,
    pageSize: ldap.identity.pageSize,
  });
}

export default async function ldapPlugin(app: FastifyInstance): Promise<void> {
  app.providers.register(ldapProvider(app.config));
}
