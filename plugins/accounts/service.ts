/** Identity access tokens: issued after an OpenID check, stored hashed, optionally expiring. */
import type { Account } from '../../core/api.js';
import type { AccountTokenStore } from '../../core/store/port.js';
import { hashSecret, randomToken } from '../../core/crypto/tokens.js';
import { forbidden, invalidParam, unauthorized } from '../../core/errors.js';
import { FAILURE_FOR_CALLER, FederationError, type Federation } from '../../core/federation/types.js';
import { isValidServerName, userIdServerName } from '../../core/federation/server-name.js';
import type { FastifyBaseLogger } from 'fastify';

export interface AccountOptions {
  /** ms; 0 = tokens never expire. */
  tokenLifetime: number;
  /** Homeserver names allowed to register; empty allows any. */
  allowedHomeservers: readonly string[];
  /** Tokens one user may hold; a new one beyond it drops the oldest (0: no cap). */
  maxTokensPerUser: number;
}

export class AccountService {
  constructor(
    private readonly store: AccountTokenStore,
    private readonly federation: Federation,
    private readonly options: AccountOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  async authenticate(token: string): Promise<Account | null> {
    const tokenHash = hashSecret(token);
    const stored = await this.store.get(tokenHash);
    if (!stored || (stored.expiresAt !== null && stored.expiresAt <= Date.now())) return null;
    return { userId: stored.userId, tokenHash };
  }

  /** A new token for `userId`; only its hash is stored. The user's oldest tokens beyond maxTokensPerUser go. */
  async issue(userId: string): Promise<string> {
    const token = randomToken(32);
    const now = Date.now();
    const lifetime = this.options.tokenLifetime;
    await this.store.put({ tokenHash: hashSecret(token), userId, createdAt: now, expiresAt: lifetime > 0 ? now + lifetime : null });
    if (this.options.maxTokensPerUser > 0) await this.store.deleteOldest(userId, this.options.maxTokensPerUser);
    return token;
  }

  async logout(account: Account): Promise<void> {
    await this.store.delete(account.tokenHash);
  }

  /** Removes tokens past their lifetime (they are already refused; this keeps the store small). */
  async purgeExpired(): Promise<number> {
    return this.store.deleteBefore(Date.now());
  }

  /**
   * Exchanges a homeserver's OpenID token for an identity token: the homeserver `serverName`
   * (resolved as federation does) must vouch for a user of its own through openid/userinfo.
   */
  async register(openIdToken: string, serverName: string, requester: string): Promise<string> {
    if (!isValidServerName(serverName)) throw invalidParam('matrix_server_name is not a valid server name');
    const allowed = this.options.allowedHomeservers;
    if (allowed.length > 0 && !allowed.includes(serverName)) throw forbidden('M_FORBIDDEN', `This identity server does not accept accounts from ${serverName}`);
    const userId = await this.openIdUser(openIdToken, serverName, requester);
    return this.issue(userId);
  }

  /** The user `serverName` vouches for; the request counts against `requester` (a client network: federation.rateLimit). */
  private async openIdUser(openIdToken: string, serverName: string, requester: string): Promise<string> {
    let response;
    try {
      response = await this.federation.request(serverName, {
        method: 'GET',
        path: `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(openIdToken)}`,
      }, { onBehalfOf: requester });
    } catch (err) {
      if (err instanceof FederationError) {
        this.log.info({ homeserver: serverName, reason: err.reason, detail: err.message }, 'OpenID check failed');
        throw unauthorized(`Could not check the OpenID token: ${serverName} ${FAILURE_FOR_CALLER[err.reason]}`);
      }
      throw err;
    }
    if (response.status !== 200) throw unauthorized(`${serverName} did not accept the OpenID token (HTTP ${response.status})`);
    const sub = (response.json as { sub?: unknown } | null)?.sub;
    const subServer = userIdServerName(sub);
    if (subServer === null) throw unauthorized(`${serverName} answered the OpenID check without a valid user id`);
    if (subServer !== serverName) throw unauthorized(`${serverName} vouched for a user of another server`);
    return sub as string;
  }
}
