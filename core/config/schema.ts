/**
 * The core's configuration sections. Plugins bring their own sections in their manifests
 * (plugins/<name>/manifest.ts); ./compose.ts joins them into the one schema that is validated,
 * documented (`unisd config keys`) and overridable by environment variables. Every key has its
 * doc, format and default; the environment variable of a key is derived from its path
 * (`server.bodyLimit` → `UNISD_SERVER_BODY_LIMIT`). Sections named as in ma1sd's documentation
 * accept its snippets as written. Formats are described in ./formats.ts; durations are
 * milliseconds. Adding a key: give it doc, format and default, an example line in
 * ./example.ts (a plugin: in its manifest's `example`), then regenerate docs/configuration.md
 * and config/unisd.example.yaml (`npm run docs`).
 */
import { parseDuration } from './duration.js';

const ms = parseDuration;

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
    shutdownTimeout: { doc: 'How long SIGTERM (or SIGINT) waits for requests in flight before cutting them; connections without one close at once.', format: 'duration', default: ms('10s') },
    headersTimeout: { doc: 'Time a client has to send a request\'s headers (slow clients are cut off, 408).', format: 'duration', default: ms('10s') },
    requestTimeout: { doc: 'Time a client has to send a whole request, body included (408 after it; 0: no limit).', format: 'duration', default: ms('30s') },
    keepAliveTimeout: { doc: 'How long an idle keep-alive connection stays open. Behind a reverse proxy that reuses connections, keep it above the proxy\'s own idle timeout.', format: 'duration', default: ms('72s') },
    maxConnections: { doc: 'Most connections open at once; more are closed as they arrive (0: no limit). Keep it below the open-file limit (ulimit -n).', format: 'nat', default: 512 },
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
      path: { doc: 'SQLite database file. One unisd process at a time: a second one on the same file is refused (it holds <path>.lock).', format: String, default: './data/unisd.db' },
      synchronous: { doc: 'full: a write answered is on disk, surviving a power loss or OS crash. normal: faster writes (see npm run bench), but the last ones answered can be lost on a power loss (never on a crash of unisd alone).', format: ['full', 'normal'], default: 'full' as 'full' | 'normal' },
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
  plugins: {
    modules: { doc: 'Plugins loaded from outside unisd: paths (starting with / or ., relative to the working directory) or package names of modules whose default export is a plugin manifest (docs/plugins.md).', format: 'string-list', default: [] as string[] },
  },
  providers: {
    timeout: { doc: 'Deadline of one identity provider call; a provider that misses it is skipped for that request (logged, counted).', format: 'duration', default: ms('5s') },
  },
};

export type Schema = typeof schema;
