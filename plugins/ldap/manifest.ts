/** The LDAP identity provider plugin (`ldap.*`, ma1sd's section): lookups and the hash source from a directory. */
import { definePlugin } from '../../core/plugin/manifest.js';
import type { SectionValues } from '../../core/config/types.js';
import { ldapSection } from './config.js';

const config = {
  ldap: ldapSection,
};

declare module '../../core/config/types.js' {
  interface PluginConfigs extends SectionValues<typeof config> {}
}

export default definePlugin({
  name: 'ldap',
  description: 'identity provider: an LDAP directory (OpenLDAP, FreeIPA, Active Directory)',
  config,
  example: `
ldap:
  # A directory (OpenLDAP, FreeIPA, Active Directory): see plugins/ldap/README.md.
  enabled: false
  # Let hash lookup see the directory's addresses (read page by page). ma1sd's code read
  # ldap.identity.lookup instead: either turns it on.
  lookup: false
  # Every search must also match this (empty: no restriction).
  filter: '(objectClass=inetOrgPerson)'
  connection:
    host: ldap.example.org
    port: 636
    # ldaps:// to host; for ldap:// with an upgrade, set tls: false and startTls: true.
    tls: true
    # Failover: more servers tried in order when the ones before are down.
    servers:
      - ldaps://ldap2.example.org:636
    startTls: false
    # CA of the servers' certificates (empty: the system CAs).
    ca: /etc/unisd/ldap-ca.pem
    verifyTls: true
    bindDn: cn=unisd,ou=services,dc=example,dc=org
    # Secret: prefer UNISD_LDAP_CONNECTION_BIND_PASSWORD.
    bindPassword: change-me
    # ma1sd's deprecated single base DN, added to baseDNs.
    baseDn: ''
    baseDNs:
      - ou=people,dc=example,dc=org
    # To connect and bind, and per request; a server missing it is skipped for 30s.
    timeout: 2s
    poolSize: 4
  attribute:
    uid:
      # uid: the value is a localpart (completed with matrix.domain); mxid: a full Matrix ID.
      type: uid
      # OpenLDAP/FreeIPA: uid; Active Directory: sAMAccountName (the default) or userPrincipalName.
      value: uid
    # ma1sd's display name attribute (unused by unisd).
    name: displayName
    threepid:
      email: [mail]
      msisdn: [telephoneNumber, mobile]
  identity:
    # Filter of identity searches; empty: ldap.filter.
    filter: ''
    # Placeholder of the (escaped) address in the queries below.
    token: '%3pid'
    # A lookup query per medium, replacing the search of ldap.attribute.threepid.
    medium:
      email: '(|(mail=%3pid)(mailAlternateAddress=%3pid))'
    lookup: false
    # Entries per page of the hash source's search (at most the server's limit).
    pageSize: 500
  # ma1sd's keys for features unisd does not have (authentication, user directory, profile):
  # accepted so an ma1sd file loads, and ignored.
  auth:
    filter: ''
  directory:
    filter: ''
    attribute:
      other: []
  profile:
    filter: ''
`,
  enabled: (c) => c.ldap.enabled,
  dependencies: ['binds'],
  plugin: () => import('./index.js'),
});
