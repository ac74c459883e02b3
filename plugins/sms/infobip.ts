/**
 * The Infobip connector: one POST of JSON to {baseUrl}/sms/2/text/advanced with
 * `Authorization: App <apiKey>`: `{"messages": [{"destinations": [{"to": digits}], "from", "text"}]}`.
 * Infobip answers 200 with each message's status; a message whose status group is REJECTED (5)
 * was not sent. HTTP errors carry `{"requestError": {"serviceException": {"messageId", "text"}}}`.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/load.js';
import { badRequest } from '../../core/errors.js';
import { callGateway, jsonBody, sendError } from './gateway.js';
import type { SmsSender } from './types.js';

export type InfobipConfig = Config['sms']['infobip'];

/** Infobip's status group of messages it refused to send. */
const REJECTED_GROUP = 5;
/** The rejection that is about the number (blocked destination): the client can act on it. */
const REJECTED_DESTINATION = 'REJECTED_DESTINATION';

interface InfobipStatus {
  groupId?: unknown;
  name?: unknown;
}

export class InfobipSender implements SmsSender {
  private readonly url: string;

  constructor(private readonly config: InfobipConfig, private readonly log: FastifyBaseLogger) {
    if (!config.apiKey) throw new ConfigError('sms.infobip.apiKey: required when sms.connector is infobip');
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/sms/2/text/advanced`;
  }

  async send(msisdn: string, text: string): Promise<void> {
    const message = { destinations: [{ to: msisdn }], text, ...(this.config.from ? { from: this.config.from } : {}) };
    const response = await callGateway(this.url, {
      method: 'POST',
      headers: { authorization: `App ${this.config.apiKey}`, accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [message] }),
    }, this.log);
    const answer = await jsonBody(response) as { messages?: Array<{ status?: InfobipStatus }>; requestError?: { serviceException?: { messageId?: unknown } } } | null;
    if (!response.ok) {
      const reason = answer?.requestError?.serviceException?.messageId;
      this.log.error({ status: response.status, reason: typeof reason === 'string' ? reason : null }, 'the SMS gateway refused the message');
      throw sendError();
    }
    const status = answer?.messages?.[0]?.status;
    if (!status) {
      this.log.error({ status: response.status }, 'the SMS gateway answered without a message status');
      throw sendError();
    }
    if (status.groupId !== REJECTED_GROUP) return;
    const name = typeof status.name === 'string' ? status.name : null;
    this.log.error({ reason: name }, 'the SMS gateway rejected the message');
    throw name === REJECTED_DESTINATION ? badRequest('M_DESTINATION_REJECTED', 'This identity server cannot send SMS to that number') : sendError();
  }
}
