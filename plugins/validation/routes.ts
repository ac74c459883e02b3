/**
 * validate/{email,msisdn}/requestToken, validate/{email,msisdn}/submitToken (POST for clients,
 * GET for the link a person opens in a browser) and 3pid/getValidated3pid.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityRoute } from '../../core/api.js';
import { MatrixError, badRequest } from '../../core/errors.js';
import { formatMsisdn, normaliseEmail, normaliseMsisdn } from '../../core/threepid.js';
import { nextLink, opaqueId, sendAttempt, smsDisabled, type ValidatedMedium, type ValidationService } from './service.js';
import type { Page, ValidationPages } from './pages.js';
import { requesterKey } from '../../core/rate-limit.js';

const text = { type: 'string' };
/** send_attempt is parsed by the service: clients send it as a number or as a string. */
const tokenRequest = (address: Record<string, object>, required: string[]) => ({
  body: {
    type: 'object',
    required: ['client_secret', 'send_attempt', ...required],
    properties: { client_secret: text, send_attempt: {}, next_link: text, ...address },
  },
});
const submitBody = { body: { type: 'object', required: ['sid', 'client_secret', 'token'], properties: { sid: text, client_secret: text, token: text } } };

interface TokenRequestBody { client_secret: string; send_attempt: unknown; next_link?: string }
interface EmailTokenBody extends TokenRequestBody { email: string }
interface MsisdnTokenBody extends TokenRequestBody { country: string; phone_number: string }
interface SubmitBody { sid: string; client_secret: string; token: string }

/**
 * Where the browser goes after validating: next_link when it is an http(s) URL, serialised by the
 * URL parser (non-ASCII percent-encoded, line breaks and surrounding spaces gone) so it is always a
 * valid Location header; null otherwise.
 */
const redirectTarget = (link: string | null): string | null => {
  if (link === null || !URL.canParse(link)) return null;
  const url = new URL(link);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
};

/** The parameters both requestTokens share, checked before the address. */
const sessionParams = (body: TokenRequestBody) => ({
  clientSecret: opaqueId('client_secret', body.client_secret),
  sendAttempt: sendAttempt(body.send_attempt),
  nextLink: nextLink(body.next_link),
});

const sendPage = (reply: FastifyReply, status: number, page: Page) => reply.code(status).headers(page.headers).send(page.html);

export function validationRoutes(validation: ValidationService, pages: ValidationPages): IdentityRoute[] {
  /** The browser gets a page or a redirect, never JSON. */
  const submitFromBrowser = (medium: ValidatedMedium) => async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as Record<string, unknown>;
    try {
      const session = await validation.submitToken(medium, query.sid, query.client_secret, query.token);
      const target = redirectTarget(session.nextLink);
      if (target) return reply.redirect(target, 302);
      return sendPage(reply, 200, pages.success);
    } catch (err) {
      if (!(err instanceof MatrixError)) request.log.error({ err }, 'validation link failed');
      const error = err instanceof MatrixError ? err : null;
      return sendPage(reply, error?.statusCode ?? 500, pages.failure(error));
    }
  };

  const submitFromClient = (medium: ValidatedMedium) => async (request: FastifyRequest) => {
    const body = request.body as SubmitBody;
    await validation.submitToken(medium, body.sid, body.client_secret, body.token);
    return { success: true };
  };

  return [
    {
      method: 'POST', url: '/validate/email/requestToken',
      schema: tokenRequest({ email: text }, ['email']),
      handler: async (request) => {
        const body = request.body as EmailTokenBody;
        const params = sessionParams(body);
        const address = normaliseEmail(body.email);
        if (!address) throw badRequest('M_INVALID_EMAIL', 'The email address is not valid');
        const session = await validation.requestToken({ medium: 'email', address, ...params, requester: requesterKey(request.ip) });
        return { sid: session.sid };
      },
    },
    {
      method: 'POST', url: '/validate/msisdn/requestToken',
      schema: tokenRequest({ country: text, phone_number: text }, ['country', 'phone_number']),
      handler: async (request) => {
        if (!validation.smsEnabled) throw smsDisabled();
        const body = request.body as MsisdnTokenBody;
        const params = sessionParams(body);
        const address = normaliseMsisdn(body.phone_number, body.country);
        if (!address) throw badRequest('M_INVALID_ADDRESS', 'The phone number is not valid');
        const session = await validation.requestToken({ medium: 'msisdn', address, ...params, requester: requesterKey(request.ip) });
        return { sid: session.sid, msisdn: address, intl_fmt: formatMsisdn(address) };
      },
    },
    { method: 'POST', url: '/validate/email/submitToken', schema: submitBody, handler: submitFromClient('email') },
    { method: 'POST', url: '/validate/msisdn/submitToken', schema: submitBody, handler: submitFromClient('msisdn') },
    // Opened from the mail by a browser: no Authorization header, and no way to accept terms.
    { method: 'GET', url: '/validate/email/submitToken', auth: 'none', terms: false, handler: submitFromBrowser('email') },
    { method: 'GET', url: '/validate/msisdn/submitToken', auth: 'none', terms: false, handler: submitFromBrowser('msisdn') },
    {
      method: 'GET', url: '/3pid/getValidated3pid',
      handler: async (request) => {
        const query = request.query as Record<string, unknown>;
        const session = await validation.requireValidatedSession(query.sid, query.client_secret);
        return { medium: session.medium, address: session.address, validated_at: session.validatedAt };
      },
    },
  ];
}
