/**
 * A local stand-in for Twilio's Messages API over a real socket: POST
 * /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP basic auth with the
 * account SID and auth token. Records accepted messages; can be told to fail.
 */
import { randomToken } from '../../core/crypto/tokens.js';
import { basic, json, LoopbackGateway, type ReceivedRequest, type Reply } from './fake-sms-gateways.js';

export interface SentSms {
  to: string;
  from: string;
  body: string;
}

/** What the next requests get instead of success: an HTTP status and Twilio's error body. */
export interface TwilioFailure {
  status: number;
  code: number;
  message: string;
}

export class FakeTwilio extends LoopbackGateway {
  readonly accountSid = `AC${randomToken(16)}`;
  readonly authToken = randomToken(16);
  readonly from = '+15005550006';
  readonly messages: SentSms[] = [];
  /** Requests refused for bad credentials. */
  unauthorized = 0;
  failure: TwilioFailure | null = null;

  /** The `sms` config that reaches this fake. */
  smsConfig(): Record<string, unknown> {
    return { connector: 'twilio', twilio: { accountSid: this.accountSid, authToken: this.authToken, from: this.from, baseUrl: this.baseUrl } };
  }

  protected handle(request: ReceivedRequest, reply: Reply): void {
    const answer = (status: number, body: unknown) => json(reply, status, body, { 'content-type': 'application/json' });
    if (request.method !== 'POST' || request.url !== `/2010-04-01/Accounts/${this.accountSid}/Messages.json`) {
      return answer(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    }
    if (request.headers.authorization !== basic(this.accountSid, this.authToken)) {
      this.unauthorized += 1;
      return answer(401, { code: 20003, message: 'Authenticate', status: 401 });
    }
    if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return answer(400, { code: 20001, message: 'Expected a form-encoded body', status: 400 });
    }
    const form = new URLSearchParams(request.body);
    if (this.failure) return answer(this.failure.status, { code: this.failure.code, message: this.failure.message, status: this.failure.status });
    const message = { to: form.get('To') ?? '', from: form.get('From') ?? '', body: form.get('Body') ?? '' };
    this.messages.push(message);
    return answer(201, { sid: `SM${randomToken(16)}`, status: 'queued', to: message.to, from: message.from, body: message.body });
  }
}
