/**
 * Local stand-ins for SMS gateways over real sockets, each speaking its provider's request
 * format and answering as the provider does: OpenMarket's Global SMS API v4, Infobip's
 * /sms/2/text/advanced, Amazon SNS Publish (AWS Query protocol, SigV4 checked with the secret
 * key) and a plain recorder for the generic HTTP connector. Each records what it accepted and
 * can be told to fail.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomToken } from '../../core/crypto/tokens.js';

/** One request as the gateway received it. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Reply = (status: number, headers: Record<string, string>, body?: string) => void;

/** A gateway on a loopback port: records each request whole and lets the subclass answer it. */
export abstract class LoopbackGateway {
  /** Every request received, accepted or not. */
  readonly requests: ReceivedRequest[] = [];
  private server!: Server;

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.receive(request, response));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The `sms` config that reaches this gateway. */
  abstract smsConfig(): Record<string, unknown>;

  protected abstract handle(request: ReceivedRequest, reply: Reply): void;

  private async receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const received = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
    this.requests.push(received);
    this.handle(received, (status, headers, body) => response.writeHead(status, headers).end(body));
  }
}

export const json = (reply: Reply, status: number, body: unknown, headers: Record<string, string> = {}) =>
  reply(status, { 'content-type': 'application/json;charset=UTF-8', ...headers }, JSON.stringify(body));

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** What OpenMarket accepted: its mobileTerminate object. */
export interface OpenMarketMessage {
  message: { content: string; type: string };
  destination: { address: string };
  source?: { ton: number; address: string };
}

/** OpenMarket Global SMS API v4: POST /sms/v4/mt, JSON, basic auth; 202 with the ticket in Location. */
export class FakeOpenMarket extends LoopbackGateway {
  readonly username = `acct-${randomToken(8)}`;
  readonly password = randomToken(16);
  readonly messages: OpenMarketMessage[] = [];
  /** What the next requests get instead of 202: an HTTP status and OpenMarket's error code. */
  failure: { status: number; code: number; description: string } | null = null;

  smsConfig(originators: Record<string, string> = {}): Record<string, unknown> {
    return { connector: 'openmarket', openmarket: { username: this.username, password: this.password, url: `${this.baseUrl}/sms/v4/mt`, originators } };
  }

  protected handle(request: ReceivedRequest, reply: Reply): void {
    const requestId = `BAC=${randomUUID().toUpperCase()}`;
    const error = (status: number, code: number, description: string) => json(reply, status, { error: { code, description } }, { 'x-request-id': requestId });
    if (request.method !== 'POST' || request.url !== '/sms/v4/mt') return error(404, 404, 'Not found');
    if (request.headers.authorization !== basic(this.username, this.password)) return error(401, 401, 'Unauthorized');
    if (!String(request.headers['content-type']).startsWith('application/json')) return error(415, 415, 'Unsupported media type');
    let mt: OpenMarketMessage | undefined;
    try {
      mt = (JSON.parse(request.body) as { mobileTerminate?: OpenMarketMessage }).mobileTerminate;
    } catch { /* answered below */ }
    if (!mt || typeof mt.message?.content !== 'string' || mt.message.type !== 'text' || !/^\d{6,15}$/.test(mt.destination?.address ?? '')) {
      return error(400, 1001, 'Invalid request');
    }
    if (this.failure) return error(this.failure.status, this.failure.code, this.failure.description);
    this.messages.push(mt);
    reply(202, { location: `${this.baseUrl}/sms/v4/mt/${randomToken(5)}-${randomToken(5)}`, 'x-request-id': requestId, 'content-length': '0' });
  }
}

/** What Infobip accepted. */
export interface InfobipMessage {
  to: string;
  from?: string;
  text: string;
}

/** Infobip: POST /sms/2/text/advanced, JSON, `Authorization: App <key>`; 200 with each message's status. */
export class FakeInfobip extends LoopbackGateway {
  readonly apiKey = randomToken(32);
  readonly messages: InfobipMessage[] = [];
  /** Sent messages get this status name in group 5 (REJECTED) instead of PENDING_ACCEPTED. */
  rejectAs: string | null = null;

  smsConfig(from = ''): Record<string, unknown> {
    return { connector: 'infobip', infobip: { apiKey: this.apiKey, baseUrl: this.baseUrl, from } };
  }

  protected handle(request: ReceivedRequest, reply: Reply): void {
    const requestError = (status: number, messageId: string, text: string) => json(reply, status, { requestError: { serviceException: { messageId, text } } });
    if (request.method !== 'POST' || request.url !== '/sms/2/text/advanced') return requestError(404, 'NOT_FOUND', 'Requested URL not found');
    if (request.headers.authorization !== `App ${this.apiKey}`) return requestError(401, 'UNAUTHORIZED', 'Invalid login details');
    let messages: Array<{ destinations?: Array<{ to?: unknown }>; from?: string; text?: unknown }> | undefined;
    try {
      messages = (JSON.parse(request.body) as { messages?: typeof messages }).messages;
    } catch { /* answered below */ }
    const [message] = messages ?? [];
    const to = message?.destinations?.[0]?.to;
    if (messages?.length !== 1 || typeof to !== 'string' || typeof message!.text !== 'string') return requestError(400, 'BAD_REQUEST', 'Bad request');
    const status = this.rejectAs
      ? { groupId: 5, groupName: 'REJECTED', id: 6, name: this.rejectAs, description: 'Message rejected' }
      : { groupId: 1, groupName: 'PENDING', id: 26, name: 'PENDING_ACCEPTED', description: 'Message sent to next instance' };
    if (!this.rejectAs) this.messages.push({ to, text: message!.text as string, ...(message!.from ? { from: message!.from } : {}) });
    json(reply, 200, { bulkId: randomToken(12), messages: [{ messageId: randomToken(12), status, to }] });
  }
}

/** What SNS accepted: the Publish parameters. */
export interface SnsMessage {
  phoneNumber: string;
  message: string;
  /** MessageAttributes by name → StringValue. */
  attributes: Record<string, string>;
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * Amazon SNS Publish, AWS Query protocol: POST / with a form body (Action=Publish,
 * Version=2010-03-31), authenticated by SigV4 (the signature recomputed here with the secret
 * key); XML answers shaped as SNS's.
 */
export class FakeSns extends LoopbackGateway {
  readonly region = 'eu-west-2';
  readonly accessKeyId = `AKIA${randomToken(8).toUpperCase()}`;
  readonly secretAccessKey = randomToken(30);
  readonly messages: SnsMessage[] = [];
  /** Requests whose signature did not verify. */
  badSignatures = 0;
  /** What the next Publish gets instead of success: an HTTP status and SNS's error code. */
  failure: { status: number; code: string; message: string } | null = null;

  smsConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { connector: 'sns', sns: { region: this.region, endpoint: this.baseUrl, accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey, ...extra } };
  }

  protected handle(request: ReceivedRequest, reply: Reply): void {
    const requestId = randomUUID();
    const xml = (status: number, body: string) => reply(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body);
    const error = (status: number, type: string, code: string, message: string) => xml(status,
      `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${code}</Code>\n    <Message>${message}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`);
    if (request.method !== 'POST' || request.url !== '/') return error(404, 'Sender', 'InvalidAction', 'Unknown endpoint');
    if (!this.signatureValid(request)) {
      this.badSignatures += 1;
      return error(403, 'Sender', 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    const form = new URLSearchParams(request.body);
    if (form.get('Action') !== 'Publish' || form.get('Version') !== '2010-03-31') return error(400, 'Sender', 'InvalidAction', 'Could not find operation');
    const phoneNumber = form.get('PhoneNumber') ?? '';
    if (!/^\+\d{6,15}$/.test(phoneNumber)) return error(400, 'Sender', 'InvalidParameter', 'Invalid parameter: PhoneNumber Reason: is not valid to publish to');
    if (this.failure) return error(this.failure.status, this.failure.status >= 500 ? 'Receiver' : 'Sender', this.failure.code, this.failure.message);
    const attributes: Record<string, string> = {};
    for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i += 1) {
      attributes[form.get(`MessageAttributes.entry.${i}.Name`)!] = form.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
    }
    this.messages.push({ phoneNumber, message: form.get('Message') ?? '', attributes });
    xml(200, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n  <PublishResult>\n    <MessageId>${randomUUID()}</MessageId>\n  </PublishResult>\n  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</PublishResponse>\n`);
  }

  /** SigV4 as AWS checks it: the credential scope names this key, region and sns, and the signature matches. */
  private signatureValid(request: ReceivedRequest): boolean {
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sns\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/
      .exec(String(request.headers.authorization ?? ''));
    const amzDate = String(request.headers['x-amz-date'] ?? '');
    if (!match || match[1] !== this.accessKeyId || match[3] !== this.region || !amzDate.startsWith(match[2]!)) return false;
    const [, , date, region, signedHeaders, signature] = match as unknown as string[];
    const names = signedHeaders!.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')) return false;
    const canonicalHeaders = names.map((name) => `${name}:${String(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonicalRequest = [request.method, '/', '', canonicalHeaders, signedHeaders, sha256(request.body)].join('\n');
    const scope = `${date}/${region}/sns/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
    const key = ['sns', 'aws4_request'].reduce(hmac, hmac(hmac(`AWS4${this.secretAccessKey}`, date!), region!));
    return hmac(key, stringToSign).toString('hex') === signature;
  }
}

/** Any HTTP endpoint: records every request and answers `status` (200 by default). */
export class FakeHttpGateway extends LoopbackGateway {
  status = 200;

  smsConfig(http: Record<string, unknown> = {}): Record<string, unknown> {
    return { connector: 'http', http: { url: `${this.baseUrl}/send`, ...http } };
  }

  protected handle(_request: ReceivedRequest, reply: Reply): void {
    json(reply, this.status, this.status < 300 ? { queued: true } : { error: 'refused' });
  }
}
