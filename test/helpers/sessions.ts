/**
 * Validated 3PID sessions the way a user gets one: requestToken over HTTP, the mail caught by
 * the test SMTP server, its validation link opened with a plain GET (as a browser does).
 */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { randomToken } from '../../core/crypto/tokens.js';
import type { TestSmtpServer } from './smtp.js';

export interface TestSession {
  sid: string;
  clientSecret: string;
}

/** The validation link of a validation mail (the first http(s) URL pointing at submitToken). */
export function validationLink(raw: string): URL {
  const match = /https?:\/\/[^\s"<>]+\/validate\/email\/submitToken\?[^\s"<>]+/.exec(raw);
  assert.ok(match, 'the mail carries a validation link');
  return new URL(match[0].replace(/&amp;/g, '&'));
}

/** Requests a token for `email` (v2 with `accessToken`, else v1), then follows the mailed link. */
export async function validatedEmailSession(app: FastifyInstance, smtp: TestSmtpServer, email: string, accessToken?: string): Promise<TestSession> {
  const clientSecret = randomToken(12);
  const since = smtp.mails.length;
  const api = accessToken ? '/_matrix/identity/v2' : '/_matrix/identity/api/v1';
  const res = await app.inject({
    method: 'POST', url: `${api}/validate/email/requestToken`,
    headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
    payload: { client_secret: clientSecret, email, send_attempt: 1 },
  });
  assert.equal(res.statusCode, 200, res.body);
  const link = validationLink((await smtp.nextMail(since)).raw);
  const opened = await app.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
  assert.equal(opened.statusCode, 200, opened.body);
  return { sid: res.json().sid, clientSecret };
}
