/**
 * The one configuration schema of unisd. Every key has its doc, format and default; the
 * environment variable of a key is derived from its path (`hashing.pepperLength` →
 * `UNISD_HASHING_PEPPER_LENGTH`). Sections named as in ma1sd's documentation (`server`,
 * `matrix`, `policy`, `hashing`, `memory`, `sql`, `synapseSql`, `exec`, `ldap`) accept its
 * snippets as written. Formats are described in ./formats.ts; durations are milliseconds.
 * Adding a key: give it doc, format and default here, an example line in
 * config/unisd.example.yaml, then regenerate docs/configuration.md (`unisd config keys`).
 */
import { parseDuration } from './duration.js';
import { checkPolicies, POLICIES_EXPECTED } from './formats.js';

const ms = parseDuration;

/** One terms policy as the seed writes it; `version` is always text after loading (1.0 stays "1.0"). */
export interface PolicyConfig {
  version: string;
  terms: Record<string, { name: string; url: string }>;
  regexp?: string[];
}

const sqlConnection = {
  type: { doc: 'Database kind: postgresql, mysql (MariaDB too) or sqlite.', format: ['postgresql', 'mysql', 'sqlite'], default: 'postgresql' },
  connection: { doc: 'Connection string (postgresql://…, mysql://…) or file path for sqlite.', format: String, default: '', sensitive: true },
};

export const schema = {
  server: {
    name: { doc: 'This identity server\'s name: signs associations, and must equal the id_server homeservers use (host[:port]).', format: 'server-name', default: 'localhost:8090' },
    publicUrl: { doc: 'Public URL clients and mail recipients reach this server at (validation links, key_validity_url).', format: 'http-url', default: 'http://localhost:8090' },
    host: { doc: 'Address to listen on.', format: String, default: '127.0.0.1' },
    port: { doc: 'Port to listen on.', format: 'port', default: 8090 },
    trustProxy: {
      doc: 'Addresses or CIDR ranges of the reverse proxies in front of unisd: a request from one of them is taken to come from the right-most X-Forwarded-For entry no trusted proxy wrote (rate limits count that client). false: none (X-Forwarded-* ignored). true is refused.',
      format: 'trust-proxy', default: false as false | string[],
    },
    bodyLimit: { doc: 'Largest request body accepted, in bytes (larger → 413 M_TOO_LARGE).', format: 'nat', default: 1_048_576 },
    workers: { doc: 'HTTP processes serving the same port (node:cluster); each builds its own in_memory hash table, and pepper rotations are coordinated so all switch together. 1: no cluster.', format: 'nat', default: 1 },
    shutdownTimeout: { doc: 'How long SIGTERM waits for in-flight requests before closing.', format: 'duration', default: ms('10s') },
    tls: {
      cert: { doc: 'PEM certificate file to serve HTTPS directly (Synapse always calls https://); empty for plain HTTP behind a proxy.', format: String, default: '' },
      key: { doc: 'PEM private key file for server.tls.cert (the file is secret, its path is not).', format: String, default: '' },
    },
  },
  logging: {
    level: { doc: 'Log level (logs never hold tokens, 3PID addresses or query strings).', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
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
    v1: { doc: 'Serve the legacy /_matrix/identity/api/v1 API (deprecated).', format: 'boolean', default: true },
    v2: { doc: 'Serve the /_matrix/identity/v2 API (what current clients use).', format: 'boolean', default: true },
    domain: { doc: 'Matrix domain of local users: turns provider usernames (localparts) into Matrix IDs.', format: String, default: '' },
  },
  accounts: {
    tokenLifetime: { doc: 'Lifetime of identity access tokens; "never" keeps them until logout.', format: 'duration-or-never', default: 0 },
    allowedHomeservers: { doc: 'Homeserver names allowed to register accounts; empty allows any.', format: 'string-list', default: [] as string[] },
    maxTokensPerUser: { doc: 'Access tokens one user may hold (one per client that registered); a new one beyond it revokes that user\'s oldest (0: no cap).', format: 'nat', default: 100 },
  },
  federation: {
    timeout: { doc: 'Timeout of each step of an outbound request to a homeserver (DNS lookup, connection, request); a whole request, resolution included, gets three times it.', format: 'duration', default: ms('10s') },
    maxResponseBytes: { doc: 'Largest response body read from a homeserver.', format: 'nat', default: 1_048_576 },
    allowedAddresses: { doc: 'Addresses or CIDR ranges exempt from the SSRF guard (private, loopback, link-local are refused otherwise).', format: 'address-list', default: [] as string[] },
    verifyTls: { doc: 'Verify homeservers\' TLS certificates. Turn off only for tests or closed networks.', format: 'boolean', default: true },
    cacheTtl: { doc: 'Cache lifetime of a server name resolution whose /.well-known/matrix/server answer has no Cache-Control max-age (at most 48h).', format: 'duration', default: ms('24h') },
    maxConcurrent: { doc: 'Outbound requests made for callers (register\'s OpenID check, key fetches for X-Matrix signed unbinds) that run at once (0: no cap).', format: 'nat', default: 32 },
    maxQueued: { doc: 'Callers\' outbound requests that may wait for one of federation.maxConcurrent; past it 429 M_LIMIT_EXCEEDED.', format: 'nat', default: 128 },
    rateLimit: {
      perClient: { doc: 'Outbound requests one client network (IPv4 address, IPv6 /64) may make unisd send per window: each register, each X-Matrix unbind whose keys are not cached; past it 429 M_LIMIT_EXCEEDED (0: unlimited).', format: 'nat', default: 60 },
      window: { doc: 'Window of federation.rateLimit.perClient.', format: 'duration', default: ms('1h') },
    },
  },
  providers: {
    timeout: { doc: 'Deadline of one identity provider call; a provider that misses it is skipped for that request (logged, counted).', format: 'duration', default: ms('5s') },
  },
  policy: {
    policies: {
      doc: 'Terms of service (MSC2140): name → {version, terms.<lang>.{name,url}, regexp[]}. None disables terms.',
      format: Object, check: checkPolicies, expected: POLICIES_EXPECTED, default: {} as Record<string, PolicyConfig>,
    },
  },
  validation: {
    sessionLifetime: { doc: 'How long a validation session stays usable after its last change (the spec: 24h).', format: 'duration', default: ms('24h') },
    resend: { doc: 'Re-sending a token for the same send_attempt: always, or on_new_attempt only.', format: ['always', 'on_new_attempt'], default: 'always' },
    rateLimit: {
      perAddress: { doc: 'Messages sent to one address per window.', format: 'nat', default: 5 },
      perRequester: { doc: 'requestToken calls from one IP (an IPv6 client: its /64) per window.', format: 'nat', default: 20 },
      perSession: { doc: 'Wrong tokens submitted to one session per window before submitToken answers 429 (stops guessing of SMS codes).', format: 'nat', default: 10 },
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
      verifyTls: { doc: 'Verify the SMTP server certificate.', format: 'boolean', default: true },
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
    rateLimit: {
      perAddress: { doc: 'Invitation mails to one address per window (0: unlimited).', format: 'nat', default: 10 },
      perInviter: { doc: 'store-invite calls per inviter per window: the token\'s user on v2, the client IP (an IPv6 client\'s /64) on v1 (0: unlimited).', format: 'nat', default: 100 },
      window: { doc: 'Window of the invitation rate limits.', format: 'duration', default: ms('1h') },
    },
  },
  onbind: {
    maxAttempts: { doc: 'Delivery attempts of a 3pid/onbind notification before it is dropped (0 = keep trying).', format: 'nat', default: 0 },
    initialBackoff: { doc: 'Delay before the first retry; doubles on each failure.', format: 'duration', default: ms('5s') },
    maxBackoff: { doc: 'Longest delay between retries.', format: 'duration', default: ms('1h') },
  },
  lookup: {
    rateLimit: {
      perClient: { doc: 'Addresses one client may look up per window (v1 lookup and bulk_lookup: a client network, IPv4 address or IPv6 /64): the whole budget at once, then refilled continuously; past it 429 M_LIMIT_EXCEEDED with retry_after_ms (0: unlimited).', format: 'nat', default: 10_000 },
      window: { doc: 'Window of lookup.rateLimit.perClient.', format: 'duration', default: ms('1h') },
    },
    budget: {
      perToken: { doc: 'Addresses one access token may look up per lookup.budget.window on /v2/lookup (0: unlimited); past it 429 M_LIMIT_EXCEEDED with retry_after_ms. Sized for a large address book re-synced a few times a day.', format: 'nat', default: 50_000 },
      perUser: { doc: 'Addresses one user (all their tokens) may look up per lookup.budget.window (0: unlimited).', format: 'nat', default: 100_000 },
      window: { doc: 'The window of the lookup budgets; a budget refills continuously over it.', format: 'duration', default: ms('1h') },
    },
  },
  hashing: {
    enabled: { doc: 'Hash lookup (MSC2134): GET /v2/hash_details and POST /v2/lookup, with pepper rotation. ma1sd documented false as its default; the spec requires these routes.', format: 'boolean', default: true },
    pepperLength: { doc: 'Length of the pepper (letters and digits from a CSPRNG), at least 8.', format: 'pepper-length', default: 20 },
    rotationPolicy: { doc: 'When the pepper rotates: per_requests (after `requests` lookups) or per_seconds (every `delay`).', format: ['per_requests', 'per_seconds'], default: 'per_seconds' },
    hashStorageType: { doc: 'Where hash tables are kept: in_memory (a compact index each process builds at start and on rotation) or sql (the storage backend: shared by instances, kept across restarts; `store` is the same).', format: ['in_memory', 'sql', 'store'], default: 'in_memory' },
    algorithms: { doc: 'Lookup algorithms offered: sha256 (required by the spec), and none (plain addresses, like the v1 bulk lookup).', format: 'lookup-algorithms', default: ['sha256', 'none'] },
    delay: { doc: 'Rotation period for rotationPolicy per_seconds.', format: 'duration', default: ms('10s') },
    requests: { doc: 'Lookups between rotations for rotationPolicy per_requests.', format: 'nat', default: 10 },
    maxAddresses: { doc: 'Most addresses one lookup may ask (v2 /lookup, v1 bulk_lookup); more is 400 M_TOO_LARGE.', format: 'nat', default: 10_000 },
    altPeppers: {
      lifetime: { doc: 'How long a pepper stays accepted after a rotation replaced it (a client that fetched hash_details just before still gets answers).', format: 'duration', default: ms('1m') },
      count: { doc: 'How many replaced peppers stay accepted at most.', format: 'nat', default: 1 },
    },
  },
  memory: {
    enabled: { doc: 'Memory identity provider (identities written in this file).', format: 'boolean', default: false },
    hashEnabled: { doc: 'Let the memory provider feed hash lookup.', format: 'boolean', default: false },
    identities: { doc: 'List of {username, threepids: [{medium, address}]}.', format: 'memory-identities', default: [] as unknown[] },
  },
  sql: {
    enabled: { doc: 'Generic SQL identity provider.', format: 'boolean', default: false },
    ...sqlConnection,
    lookup: {
      query: { doc: 'Query returning mxid, medium, address for hashing.', format: String, default: '' },
    },
  },
  synapseSql: {
    enabled: { doc: 'Identity provider reading Synapse\'s database.', format: 'boolean', default: false },
    ...sqlConnection,
    lookup: {
      query: { doc: 'Query returning mxid, medium, address for hashing.', format: String, default: 'select user_id as mxid, medium, address from user_threepids' },
    },
  },
  exec: {
    enabled: { doc: 'Identity provider running external commands.', format: 'boolean', default: false },
    identity: {
      hashEnabled: { doc: 'Let the exec provider feed hash lookup.', format: 'boolean', default: false },
    },
  },
  ldap: {
    enabled: { doc: 'LDAP identity provider.', format: 'boolean', default: false },
    lookup: { doc: 'Let the LDAP provider feed hash lookup.', format: 'boolean', default: false },
    connection: {
      host: { doc: 'LDAP server host.', format: String, default: '' },
      port: { doc: 'LDAP server port.', format: 'port', default: 389 },
      tls: { doc: 'Use ldaps://.', format: 'boolean', default: false },
      bindDn: { doc: 'DN to bind as.', format: String, default: '' },
      bindPassword: { doc: 'Password of bindDn.', format: String, default: '', sensitive: true },
      baseDNs: { doc: 'Base DNs searched.', format: 'string-list', default: [] as string[] },
    },
  },
};

export type Schema = typeof schema;
