/**
 * The `ldap` config section. Key names are ma1sd's (docs/stores/ldap.md), so an ma1sd `ldap:`
 * section loads unchanged; where ma1sd documented one key and read another both are accepted
 * (`ldap.lookup`, the seed's, and `ldap.identity.lookup`, ma1sd's code; `connection.baseDn`,
 * ma1sd's deprecated singular, beside `connection.baseDNs`). unisd's additions: `servers`
 * (failover), `startTls`, `ca`, `verifyTls`, `timeout`, `poolSize`, `identity.pageSize`.
 */
import { FilterParser } from 'ldapts';
import { parseDuration } from '../../core/config/duration.js';
import { isPlainObject } from '../../core/config/formats.js';

const FILTER_EXPECTED = 'an LDAP filter such as "(objectClass=person)" (RFC 4515), or empty';

function checkFilter(value: unknown): void {
  if (value === '') return;
  try {
    FilterParser.parseString(value as string);
  } catch {
    throw new Error(`expected ${FILTER_EXPECTED}`);
  }
}

const MEDIA = ['email', 'msisdn'];
const MEDIUM_QUERIES_EXPECTED = 'a map of medium (email, msisdn) to an LDAP filter holding the token, such as {email: "(mail=%3pid)"}';

function checkMediumQueries(value: unknown): void {
  if (!isPlainObject(value)) throw new Error(`expected ${MEDIUM_QUERIES_EXPECTED}`);
  for (const [medium, query] of Object.entries(value)) {
    if (!MEDIA.includes(medium)) throw new Error(`${medium}: unknown key, expected ${MEDIA.join(' or ')}`);
    if (typeof query !== 'string' || query === '') throw new Error(`${medium}: expected ${FILTER_EXPECTED.replace(', or empty', '')}`);
    try {
      FilterParser.parseString(query);
    } catch {
      throw new Error(`${medium}: expected ${FILTER_EXPECTED.replace(', or empty', '')}`);
    }
  }
}

const AT_LEAST_ONE = 'a whole number, 1 or more';

function checkAtLeastOne(value: unknown): void {
  if ((value as number) < 1) throw new Error(`expected ${AT_LEAST_ONE}`);
}

const SERVER_URL = /^ldaps?:\/\/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?\/?$/;

function checkServers(value: unknown): void {
  (value as string[]).forEach((url, i) => {
    if (!SERVER_URL.test(url)) throw new Error(`[${i}]: expected an LDAP URL such as "ldaps://ldap2.example.org:636"`);
  });
}

export const ldapSection = {
  enabled: { doc: 'LDAP identity provider (OpenLDAP, FreeIPA, Active Directory, Samba…).', format: 'boolean', default: false },
  lookup: { doc: 'Let the LDAP provider feed hash lookup: the directory is read page by page (the seed\'s key; ldap.identity.lookup too).', format: 'boolean', default: false },
  filter: { doc: 'Filter every search must also match, such as "(memberOf=cn=matrix,ou=groups,dc=example,dc=org)"; ldap.identity.filter overrides it.', format: String, default: '', check: checkFilter, expected: FILTER_EXPECTED },
  connection: {
    host: { doc: 'LDAP server host (with port and tls below); empty when only ldap.connection.servers is used.', format: String, default: '' },
    port: { doc: 'Port of ldap.connection.host.', format: 'port', default: 389 },
    tls: { doc: 'Connect to ldap.connection.host with TLS from the start (ldaps://).', format: 'boolean', default: false },
    servers: {
      doc: 'More servers, as URLs (ldap://host:389, ldaps://host:636), tried in order after ldap.connection.host when one is down.',
      format: 'string-list', default: [] as string[], check: checkServers,
    },
    startTls: { doc: 'Upgrade ldap:// connections with STARTTLS before binding (refused by the server → the server counts as down).', format: 'boolean', default: false },
    ca: { doc: 'PEM file of the CA certificate(s) that signed the servers\' certificates; empty for the system CAs.', format: String, default: '' },
    verifyTls: { doc: 'Verify the servers\' TLS certificates (ldaps:// and STARTTLS). Turn off only for tests.', format: 'boolean', default: true },
    bindDn: { doc: 'DN to bind as; empty for an anonymous bind.', format: String, default: '' },
    bindPassword: { doc: 'Password of bindDn.', format: String, default: '', sensitive: true },
    baseDn: { doc: 'One base DN (ma1sd\'s deprecated key, added to baseDNs).', format: String, default: '' },
    baseDNs: { doc: 'Base DNs searched (subtree), in order.', format: 'string-list', default: [] as string[] },
    timeout: { doc: 'Deadline to connect and bind to one server, and of each search request; a server missing it counts as down for 30s and the next one is tried.', format: 'duration', default: parseDuration('2s') },
    poolSize: { doc: 'Connections to the directory open at once (reused between lookups); more lookups wait for one.', format: 'nat', default: 4, check: checkAtLeastOne, expected: AT_LEAST_ONE },
  },
  attribute: {
    uid: {
      type: { doc: 'How the uid attribute is read: uid (a localpart; matrix.domain completes it; a userPrincipalName\'s part before @) or mxid (a full Matrix ID).', format: ['uid', 'mxid'], default: 'uid' },
      value: { doc: 'Attribute holding the user ID: sAMAccountName (Active Directory), uid (OpenLDAP, FreeIPA), userPrincipalName…', format: String, default: 'sAMAccountName' },
    },
    name: { doc: 'Display name attribute (ma1sd\'s, for features unisd does not have; accepted, unused).', format: String, default: 'displayName' },
    threepid: {
      email: { doc: 'Attributes holding email addresses.', format: 'string-list', default: ['mailPrimaryAddress', 'mail', 'otherMailbox'] },
      msisdn: { doc: 'Attributes holding phone numbers (read in international format: "+44 1632 960000").', format: 'string-list', default: ['telephoneNumber', 'mobile', 'homePhone', 'otherTelephone', 'otherMobile', 'otherHomePhone'] },
    },
  },
  identity: {
    filter: { doc: 'Filter of identity searches (lookups and the hash source); empty for ldap.filter.', format: String, default: '', check: checkFilter, expected: FILTER_EXPECTED },
    token: { doc: 'Placeholder replaced by the (escaped) address in ldap.identity.medium queries.', format: String, default: '%3pid' },
    medium: {
      doc: 'Lookup query per medium, replacing the one built from ldap.attribute.threepid: {email: "(|(mail=%3pid)(otherMailbox=%3pid))"}.',
      format: Object, default: {} as Record<string, string>, check: checkMediumQueries, expected: MEDIUM_QUERIES_EXPECTED,
    },
    lookup: { doc: 'Same as ldap.lookup (the key ma1sd\'s code reads).', format: 'boolean', default: false },
    pageSize: { doc: 'Entries per page when the hash source reads the directory (RFC 2696); at most the server\'s limit (OpenLDAP 500, Active Directory 1000).', format: 'nat', default: 500, check: checkAtLeastOne, expected: AT_LEAST_ONE },
  },
  auth: {
    filter: { doc: 'ma1sd\'s authentication filter (a feature unisd does not have; accepted, unused).', format: String, default: '' },
  },
  directory: {
    filter: { doc: 'ma1sd\'s user directory filter (a feature unisd does not have; accepted, unused).', format: String, default: '' },
    attribute: {
      other: { doc: 'ma1sd\'s extra directory search attributes (accepted, unused).', format: 'string-list', default: [] as string[] },
    },
  },
  profile: {
    filter: { doc: 'ma1sd\'s profile filter (a feature unisd does not have; accepted, unused).', format: String, default: '' },
  },
};

