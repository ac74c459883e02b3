/**
 * 3PID validation sessions: requestToken creates (or re-sends) a session keyed by
 * (medium, normalised address, client_secret) and sends a token; submitToken validates it;
 * binds use requireValidatedSession. Sessions live `sessionLifetime` from their last change
 * (creation, a re-send before validation, validation). Tokens are stored hashed: a re-send sends a
 * new token, and only the latest one validates.
 */
import type { Config } from '../../core/config/load.js';
import type { Medium, SessionStore, ValidationSession } from '../../core/store/port.js';
import { badRequest, invalidParam, missingParams, notFound } from '../../core/errors.js';
import { constantTimeEqual, hashSecret, randomDigits, randomToken } from '../../core/crypto/tokens.js';
import type { Mailer } from '../email/types.js';
import type { SmsSender } from '../sms/types.js';
import { RateLimiter, throwIfLimited } from '../../core/rate-limit.js';
import type { LimitStore } from '../../core/limit-stores/store.js';
import type { Metrics } from '../../core/metrics.js';
import type { Validation } from './types.js';

export type ValidatedMedium = 'email' | 'msisdn';

/** The spec's grammar of sid, client_secret and (here) tokens. */
const OPAQUE_ID = /^[0-9a-zA-Z.=_-]{1,255}$/;
const MAX_NEXT_LINK = 2048;

/** A request parameter that must be an opaque id: M_MISSING_PARAMS when absent, M_INVALID_PARAM when malformed. */
export function opaqueId(name: string, value: unknown): string {
  if (value === undefined) throw missingParams(`Missing parameter: ${name}`);
  if (typeof value !== 'string' || !OPAQUE_ID.test(value)) throw invalidParam(`${name} must be 1 to 255 characters among [0-9a-zA-Z.=_-]`);
  return value;
}

/** send_attempt: an integer, or a string of digits (what matrix-js-sdk sends). */
export function sendAttempt(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value.trim())) return Number(value.trim());
  throw invalidParam('send_attempt must be a non-negative integer');
}

export function nextLink(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > MAX_NEXT_LINK) throw invalidParam(`next_link must be a URL of at most ${MAX_NEXT_LINK} characters`);
  return value;
}

export interface TokenRequest {
  medium: ValidatedMedium;
  /** Normalised (core/threepid.ts). */
  address: string;
  clientSecret: string;
  sendAttempt: number;
  nextLink: string | null;
  /** Who asks, for the per-requester rate limit: requesterKey() of the client's IP. */
  requester: string;
}

export interface ValidationOptions {
  sessions: SessionStore;
  mailer: Mailer;
  sms: SmsSender | null;
  settings: Config['validation'];
  smsTemplate: string;
  /** Public URL of the API root the validation link points at, e.g. https://id.example.org/_matrix/identity/v2. */
  apiUrl: string;
  metrics?: Metrics;
  /** Where the limits are counted (rateLimit.store). */
  limitStore?: LimitStore;
}

export class ValidationService implements Validation {
  private readonly sessions: SessionStore;
  private readonly lifetime: number;
  private readonly perRequester: RateLimiter;
  private readonly perAddress: RateLimiter;
  private readonly perSession: RateLimiter;

  constructor(private readonly options: ValidationOptions) {
    const { settings } = options;
    this.sessions = options.sessions;
    this.lifetime = settings.sessionLifetime;
    const { perRequester, perAddress, perSession, window } = settings.rateLimit;
    const { metrics } = options;
    this.perRequester = new RateLimiter(perRequester, window, { name: 'validation.rateLimit.perRequester', metrics, store: options.limitStore });
    this.perAddress = new RateLimiter(perAddress, window, { name: 'validation.rateLimit.perAddress', metrics, store: options.limitStore });
    this.perSession = new RateLimiter(perSession, window, { name: 'validation.rateLimit.perSession', metrics, store: options.limitStore });
  }

  get smsEnabled(): boolean {
    return this.options.sms !== null;
  }

  /** Starts a session, or re-sends for the existing one (same sid) as `validation.resend` says. */
  async requestToken(request: TokenRequest): Promise<ValidationSession> {
    await this.perRequester.consume(request.requester);
    const now = Date.now();
    const existing = await this.sessions.find(request.medium, request.address, request.clientSecret);
    if (existing && !this.isExpired(existing, now)) return this.resend(existing, request, now);
    if (existing) await this.sessions.delete(existing.sid);
    return this.start(request, now);
  }

  /** Checks the token; the session is then validated. Answers the session (its next_link). */
  async submitToken(medium: ValidatedMedium, sid: unknown, clientSecret: unknown, token: unknown): Promise<ValidationSession> {
    const submitted = opaqueId('token', token);
    const session = await this.session(sid, clientSecret, medium);
    const now = Date.now();
    if (this.isExpired(session, now)) throw badRequest('M_SESSION_EXPIRED', 'This validation session has expired: request a new token');
    throwIfLimited(await this.perSession.retryAfter(session.sid, 1, now));
    if (!constantTimeEqual(hashSecret(submitted), session.tokenHash)) {
      await this.perSession.record(session.sid, 1, now);
      throw badRequest('M_TOKEN_INCORRECT', 'The token is incorrect');
    }
    if (session.validatedAt !== null) return session;
    await this.sessions.update(session.sid, { validatedAt: now, updatedAt: now });
    return { ...session, validatedAt: now, updatedAt: now };
  }

  async requireValidatedSession(sid: unknown, clientSecret: unknown): Promise<ValidationSession> {
    const session = await this.session(sid, clientSecret);
    if (this.isExpired(session, Date.now())) throw badRequest('M_SESSION_EXPIRED', 'This validation session has expired: validate the address again');
    if (session.validatedAt === null) throw badRequest('M_SESSION_NOT_VALIDATED', 'This validation session has not been completed yet');
    return session;
  }

  /** Deletes sessions past their window; run by the purge job. */
  purgeExpired(now = Date.now()): Promise<number> {
    return this.sessions.deleteBefore(now - this.lifetime);
  }

  /** Forgets requesters, addresses and sessions whose budget is full again. */
  async sweepLimits(now = Date.now()): Promise<void> {
    for (const limiter of [this.perRequester, this.perAddress, this.perSession]) await limiter.sweep(now);
  }

  private isExpired(session: ValidationSession, now: number): boolean {
    return now >= session.updatedAt + this.lifetime;
  }

  /** The session of (sid, clientSecret); 404 M_NO_VALID_SESSION for an unknown sid, a wrong secret or another medium. */
  private async session(sid: unknown, clientSecret: unknown, medium?: Medium): Promise<ValidationSession> {
    const id = opaqueId('sid', sid);
    const secret = opaqueId('client_secret', clientSecret);
    const session = await this.sessions.get(id);
    if (!session || !constantTimeEqual(session.clientSecret, secret) || (medium !== undefined && session.medium !== medium)) {
      throw notFound('M_NO_VALID_SESSION', 'No valid session was found matching that sid and client secret');
    }
    return session;
  }

  /** Stores the new session, then sends; a failed send removes it again. */
  private async start(request: TokenRequest, now: number): Promise<ValidationSession> {
    const token = newToken(request.medium);
    const session: ValidationSession = {
      sid: randomToken(16),
      medium: request.medium,
      address: request.address,
      clientSecret: request.clientSecret,
      tokenHash: hashSecret(token),
      sendAttempt: request.sendAttempt,
      nextLink: request.nextLink,
      createdAt: now,
      updatedAt: now,
      validatedAt: null,
    };
    try {
      await this.sessions.create(session);
    } catch (err) {
      // A concurrent request for the same (medium, address, client_secret) created it first.
      const winner = await this.sessions.find(request.medium, request.address, request.clientSecret);
      if (!winner) throw err;
      return this.resend(winner, request, now);
    }
    try {
      await this.deliver(session, token);
    } catch (err) {
      await this.sessions.delete(session.sid);
      throw err;
    }
    return session;
  }

  /**
   * Re-sends for an existing session as `validation.resend` says: `always` on every request,
   * `on_new_attempt` (the spec's rule) only when send_attempt is greater than the last one seen,
   * otherwise the session is answered and nothing sent. A validated session is re-sent too: it
   * stays validated, its lifetime still counted from the validation. The new token's hash is
   * stored before the message leaves (the link works as soon as it arrives); a failed send puts
   * the previous token back.
   */
  private async resend(session: ValidationSession, request: TokenRequest, now: number): Promise<ValidationSession> {
    if (this.options.settings.resend === 'on_new_attempt' && request.sendAttempt <= session.sendAttempt) return session;
    this.limitAddress(session);
    const token = newToken(session.medium);
    const changes = {
      tokenHash: hashSecret(token),
      sendAttempt: Math.max(session.sendAttempt, request.sendAttempt),
      nextLink: request.nextLink ?? session.nextLink,
      updatedAt: session.validatedAt === null ? now : session.updatedAt,
    };
    await this.sessions.update(session.sid, changes);
    const resent = { ...session, ...changes };
    try {
      await this.send(resent, token);
    } catch (err) {
      const { tokenHash, sendAttempt, nextLink, updatedAt } = session;
      await this.sessions.update(session.sid, { tokenHash, sendAttempt, nextLink, updatedAt });
      throw err;
    }
    return resent;
  }

  private async deliver(session: ValidationSession, token: string): Promise<void> {
    await this.limitAddress(session);
    await this.send(session, token);
  }

  private async limitAddress(session: ValidationSession): Promise<void> {
    await this.perAddress.consume(`${session.medium}:${session.address}`);
  }

  private async send(session: ValidationSession, token: string): Promise<void> {
    if (session.medium === 'msisdn') {
      if (!this.options.sms) throw smsDisabled();
      await this.options.sms.send(session.address, this.options.smsTemplate.replaceAll('{token}', token));
      return;
    }
    const query = new URLSearchParams({ sid: session.sid, client_secret: session.clientSecret, token });
    await this.options.mailer.send('validation', session.address, {
      token,
      link: `${this.options.apiUrl}/validate/email/submitToken?${query}`,
      sid: session.sid,
      client_secret: session.clientSecret,
      next_link: session.nextLink ?? '',
      address: session.address,
    });
  }
}

/** Email: a long token (only ever clicked). SMS: a 6-digit code a person types. */
const newToken = (medium: Medium): string => (medium === 'msisdn' ? randomDigits(6) : randomToken(32));

export const smsDisabled = () => badRequest('M_UNRECOGNIZED', 'This identity server does not validate phone numbers (no SMS connector is configured)');
