/**
 * The one configuration schema of unisd. Every key has its doc, format and default; the
 * environment variable of a key is derived from its path (`hashing.pepperLength` →
 * `UNISD_HASHING_PEPPER_LENGTH`). Sections named as in ma1sd's documentation (`matrix`,
 * `policy`, `hashing`, `memory`, `sql`, `synapseSql`, `exec`, `ldap`) accept its snippets as written.
 */
import convict from 'convict';
import { parseDuration } from './duration.js';

const ms = parseDuration;

convict.addFormat({
  name: 'duration',
  validate(value: unknown) { parseDuration(value); },
  coerce: (value: unknown) => parseDuration(value),
});

/** A duration, or `never` / 0 for "no limit". Coerced to milliseconds, 0 meaning never. */
convict.addFormat({
  name: 'duration-or-never',
  validate(value: unknown) { if (value !== 'never' && value !== 0) parseDuration(value); },
  coerce: (value: unknown) => (value === 'never' ? 0 : parseDuration(value)),
});

convict.addFormat({
  name: 'string-list',
  validate(value: unknown) {
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new Error('expected a list of strings');
  },
  coerce: (value: unknown) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter(Boolean) : value),
});

convict.addFormat({
  name: 'http-url',
  validate(value: unknown) {
    if (typeof value !== 'string' || !/^https?:\/\/[^/\s]+(\/.*)?$/.test(value)) throw new Error('expected an http(s) URL such as "https://id.example.org"');
  },
});

convict.addFormat({
  name: 'memory-identities',
  validate(value: unknown) {
    if (!Array.isArray(value)) throw new Error('expected a list of identities');
    value.forEach((identity: any, i) => {
      if (typeof identity !== 'object' || identity === null) throw new Error(`entry ${i}: expected an object with username and threepids`);
      if (typeof identity.username !== 'string' || identity.username === '') throw new Error(`entry ${i}: expected a username (localpart or full Matrix ID)`);
      if (identity.threepids !== undefined && (!Array.isArray(identity.threepids)
        || identity.threepids.some((t: any) => typeof t?.medium !== 'string' || typeof t?.address !== 'string'))) {
        throw new Error(`entry ${i}: threepids must be a list of {medium, address}`);
      }
    });
  },
});

/**
 * Checked by loadConfig after convict: convict only treats `format: Object` values as opaque
 * maps (a custom format would make it walk into policy names as if they were schema keys).
 */
export function validatePolicies(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a map of policy name to {version, terms, regexp}');
  for (const [name, policy] of Object.entries(value as Record<string, any>)) {
    if (typeof policy !== 'object' || policy === null) throw new Error(`${name}: expected {version, terms, regexp}`);
    const known = new Set(['version', 'terms', 'regexp']);
    const unknown = Object.keys(policy).find((key) => !known.has(key));
    if (unknown) throw new Error(`${name}.${unknown}: unknown key, expected version, terms or regexp`);
    if (typeof policy.version !== 'string' && typeof policy.version !== 'number') throw new Error(`${name}.version: expected a version string`);
    if (typeof policy.terms !== 'object' || policy.terms === null || Object.keys(policy.terms).length === 0) {
      throw new Error(`${name}.terms: expected at least one language with {name, url}`);
    }
    for (const [lang, text] of Object.entries(policy.terms as Record<string, any>)) {
      if (typeof text?.name !== 'string' || typeof text?.url !== 'string') throw new Error(`${name}.terms.${lang}: expected {name, url}`);
    }
    if (policy.regexp !== undefined) {
      if (!Array.isArray(policy.regexp)) throw new Error(`${name}.regexp: expected a list of regular expressions`);
      for (const pattern of policy.regexp) {
        try { new RegExp(String(pattern)); } catch { throw new Error(`${name}.regexp: ${JSON.stringify(pattern)} is not a valid regular expression`); }
      }
    }
  }
}

const sqlConnection = {
  type: { doc: 'Database kind: postgresql, mysql (MariaDB too) or sqlite.', format: ['postgresql', 'mysql', 'sqlite'], default: 'postgresql' },
  connection: { doc: 'Connection string (postgresql://…, mysql://…) or file path for sqlite.', format: String, default: '', sensitive: true },
};

export const schema = {
  server: {
    name: { doc: 'This identity server\'s name: signs associations, and must equal the id_server homeservers use (host[:port]).', format: String, default: 'localhost:8090' },
    publicUrl: { doc: 'Public URL clients and mail recipients reach this server at (validation links, key_validity_url).', format: 'http-url', default: 'http://localhost:8090' },
    host: { doc: 'Address to listen on.', format: String, default: '127.0.0.1' },
    port: { doc: 'Port to listen on.', format: 'port', default: 8090 },
    trustProxy: { doc: 'Trust X-Forwarded-* headers from a reverse proxy.', format: Boolean, default: false },
    bodyLimit: { doc: 'Largest request body accepted, in bytes (larger → 413 M_TOO_LARGE).', format: 'nat', default: 1_048_576 },
    shutdownTimeout: { doc: 'How long SIGTERM waits for in-flight requests before closing.', format: 'duration', default: ms('10s') },
    tls: {
      cert: { doc: 'PEM certificate file to serve HTTPS directly (Synapse always calls https://); empty for plain HTTP behind a proxy.', format: String, default: '' },
      key: { doc: 'PEM private key file for server.tls.cert.', format: String, default: '', sensitive: true },
    },
  },
  logging: {
    level: { doc: 'Log level.', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  },
  storage: {
    backend: { doc: 'Where unisd keeps its state: sqlite (embedded, default) or mongodb (production, several instances).', format: ['sqlite', 'mongodb'], default: 'sqlite' },
    sqlite: {
      path: { doc: 'SQLite database file.', format: String, default: './data/unisd.db' },
    },
    mongodb: {
      uri: { doc: 'MongoDB connection string.', format: String, default: '', sensitive: true },
      database: { doc: 'MongoDB database name.', format: String, default: 'unisd' },
    },
  },
  keys: {
    path: { doc: 'File holding the long-term ed25519 signing key (key id ed25519:0); created on first start.', format: String, default: './data/signing.key' },
  },
  matrix: {
    v1: { doc: 'Serve the legacy /_matrix/identity/api/v1 API (deprecated).', format: Boolean, default: true },
    v2: { doc: 'Serve the /_matrix/identity/v2 API (what current clients use).', format: Boolean, default: true },
    domain: { doc: 'Matrix domain of local users: turns provider usernames (localparts) into Matrix IDs.', format: String, default: '' },
  },
  accounts: {
    tokenLifetime: { doc: 'Lifetime of identity access tokens; "never" keeps them until logout.', format: 'duration-or-never', default: 0 },
    allowedHomeservers: { doc: 'Homeserver names allowed to register accounts; empty allows any.', format: 'string-list', default: [] as string[] },
  },
  federation: {
    timeout: { doc: 'Timeout of each outbound request to a homeserver.', format: 'duration', default: ms('10s') },
    maxResponseBytes: { doc: 'Largest response body read from a homeserver.', format: 'nat', default: 1_048_576 },
    allowedAddresses: { doc: 'Addresses or CIDR ranges exempt from the SSRF guard (private, loopback, link-local are refused otherwise).', format: 'string-list', default: [] as string[] },
    verifyTls: { doc: 'Verify homeservers\' TLS certificates. Turn off only for tests or closed networks.', format: Boolean, default: true },
    cacheTtl: { doc: 'Default cache lifetime of server name resolutions and keys without cache headers.', format: 'duration', default: ms('24h') },
  },
  policy: {
    policies: { doc: 'Terms of service (MSC2140): name → {version, terms.<lang>.{name,url}, regexp[]}. None disables terms.', format: Object, default: {} as Record<string, unknown> },
  },
  validation: {
    sessionLifetime: { doc: 'How long a validation session stays usable after its last change (the spec: 24h).', format: 'duration', default: ms('24h') },
    resend: { doc: 'Re-sending a token for the same send_attempt: always, or on_new_attempt only.', format: ['always', 'on_new_attempt'], default: 'always' },
    rateLimit: {
      perAddress: { doc: 'Messages sent to one address per window.', format: 'nat', default: 5 },
      perRequester: { doc: 'requestToken calls from one IP per window.', format: 'nat', default: 20 },
      window: { doc: 'Rate limit window.', format: 'duration', default: ms('1h') },
    },
    purgeInterval: { doc: 'How often expired sessions, tokens and invites are purged.', format: 'duration', default: ms('10m') },
    successTemplate: { doc: 'HTML page shown after a browser validates a token; empty for the built-in page.', format: String, default: '' },
  },
  email: {
    from: { doc: 'Sender address of mails, used by the built-in templates.', format: String, default: 'unisd <noreply@localhost>' },
    smtp: {
      host: { doc: 'SMTP server host.', format: String, default: 'localhost' },
      port: { doc: 'SMTP server port.', format: 'port', default: 25 },
      tls: { doc: 'none, starttls (upgrade, required) or tls (implicit TLS, port 465).', format: ['none', 'starttls', 'tls'], default: 'none' },
      verifyTls: { doc: 'Verify the SMTP server certificate.', format: Boolean, default: true },
      login: { doc: 'SMTP login; empty for none.', format: String, default: '' },
      password: { doc: 'SMTP password.', format: String, default: '', sensitive: true },
    },
    templates: {
      validation: { doc: 'RFC 822 template of the validation mail; empty for config/templates/validation.eml.', format: String, default: '' },
      invite: { doc: 'RFC 822 template of the invitation mail; empty for config/templates/invite.eml.', format: String, default: '' },
      unbind: { doc: 'RFC 822 template of the unbind notice; empty for config/templates/unbind.eml.', format: String, default: '' },
    },
  },
  sms: {
    connector: { doc: 'SMS connector: none or twilio.', format: ['none', 'twilio'], default: 'none' },
    template: { doc: 'SMS text; {token} is replaced by the code.', format: String, default: 'Your validation code is {token}' },
    twilio: {
      accountSid: { doc: 'Twilio account SID.', format: String, default: '' },
      authToken: { doc: 'Twilio auth token.', format: String, default: '', sensitive: true },
      from: { doc: 'Sender number (E.164, with +).', format: String, default: '' },
      baseUrl: { doc: 'Twilio REST API base URL.', format: 'http-url', default: 'https://api.twilio.com' },
    },
  },
  invites: {
    lifetime: { doc: 'How long a stored invitation (and its ephemeral key) stays pending.', format: 'duration', default: ms('7d') },
  },
  onbind: {
    maxAttempts: { doc: 'Delivery attempts of a 3pid/onbind notification before it is dropped (0 = keep trying).', format: 'nat', default: 0 },
    initialBackoff: { doc: 'Delay before the first retry; doubles on each failure.', format: 'duration', default: ms('5s') },
    maxBackoff: { doc: 'Longest delay between retries.', format: 'duration', default: ms('1h') },
  },
  hashing: {
    enabled: { doc: 'Hash lookup (MSC2134) with pepper rotation.', format: Boolean, default: true },
    pepperLength: { doc: 'Length of the pepper.', format: 'nat', default: 20 },
    rotationPolicy: { doc: 'When the pepper rotates: per_requests or per_seconds.', format: ['per_requests', 'per_seconds'], default: 'per_seconds' },
    hashStorageType: { doc: 'Where hashes are kept: sql (the storage backend) or in_memory.', format: ['sql', 'in_memory'], default: 'sql' },
    algorithms: { doc: 'Lookup algorithms offered: sha256 and/or none.', format: 'string-list', default: ['sha256'] },
    delay: { doc: 'Rotation period for rotationPolicy per_seconds.', format: 'duration', default: ms('10s') },
    requests: { doc: 'Lookups between rotations for rotationPolicy per_requests.', format: 'nat', default: 10 },
  },
  memory: {
    enabled: { doc: 'Memory identity provider (identities written in this file).', format: Boolean, default: false },
    hashEnabled: { doc: 'Let the memory provider feed hash lookup.', format: Boolean, default: false },
    identities: { doc: 'List of {username, threepids: [{medium, address}]}.', format: 'memory-identities', default: [] as unknown[] },
  },
  sql: {
    enabled: { doc: 'Generic SQL identity provider.', format: Boolean, default: false },
    ...sqlConnection,
    lookup: {
      query: { doc: 'Query returning mxid, medium, address for hashing.', format: String, default: '' },
    },
  },
  synapseSql: {
    enabled: { doc: 'Identity provider reading Synapse\'s database.', format: Boolean, default: false },
    ...sqlConnection,
    lookup: {
      query: { doc: 'Query returning mxid, medium, address for hashing.', format: String, default: 'select user_id as mxid, medium, address from user_threepids' },
    },
  },
  exec: {
    enabled: { doc: 'Identity provider running external commands.', format: Boolean, default: false },
    identity: {
      hashEnabled: { doc: 'Let the exec provider feed hash lookup.', format: Boolean, default: false },
    },
  },
  ldap: {
    enabled: { doc: 'LDAP identity provider.', format: Boolean, default: false },
    lookup: { doc: 'Let the LDAP provider feed hash lookup.', format: Boolean, default: false },
    connection: {
      host: { doc: 'LDAP server host.', format: String, default: '' },
      port: { doc: 'LDAP server port.', format: 'port', default: 389 },
      tls: { doc: 'Use ldaps://.', format: Boolean, default: false },
      bindDn: { doc: 'DN to bind as.', format: String, default: '' },
      bindPassword: { doc: 'Password of bindDn.', format: String, default: '', sensitive: true },
      baseDNs: { doc: 'Base DNs searched.', format: 'string-list', default: [] as string[] },
    },
  },
};

export type Schema = typeof schema;
