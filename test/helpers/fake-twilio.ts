/**
 * A local stand-in for Twilio's Messages API over a real socket: POST
 * /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP basic auth with the
 * account SID and auth token. Records accepted messages; can be told to fail.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomToken } from '../../core/crypto/tokens.js';

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

export class FakeTwilio {
  readonly accountSid = `AC${randomToken(16)}`;
  readonly authToken = randomToken(16);
  readonly from = '+15005550006';
  readonly messages: SentSms[] = [];
  /** Requests refused for bad credentials. */
  unauthorized = 0;
  failure: TwilioFailure | null = null;
  private server!: Server;

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The `sms` config that reaches this fake. */
  smsConfig(): Record<string, unknown> {
    return { connector: 'twilio', twilio: { accountSid: this.accountSid, authToken: this.authToken, from: this.from, baseUrl: this.baseUrl } };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (request.method !== 'POST' || request.url !== `/2010-04-01/Accounts/${this.accountSid}/Messages.json`) {
      return reply(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    }
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (request.headers.authorization !== expected) {
      this.unauthorized += 1;
      return reply(401, { code: 20003, message: 'Authenticate', status: 401 });
    }
    if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return reply(400, { code: 20001, message: 'Expected a form-encoded body', status: 400 });
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (this.failure) return reply(this.failure.status, { code: this.failure.code, message: this.failure.message, status: this.failure.status });
    const message = { to: form.get('To') ?? '', from: form.get('From') ?? '', body: form.get('Body') ?? '' };
    this.messages.push(message);
    return reply(201, { sid: `SM${randomToken(16)}`, status: 'queued', to: message.to, from: message.from, body: message.body });
  }
}
