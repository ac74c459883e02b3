/**
 * The OpenMarket connector, as sydent sends (so a sydent operator keeps the same account and
 * senders): one POST of JSON to the Global SMS API v4 (`{url}` = https://smsc.openmarket.com/sms/v4/mt),
 * HTTP basic auth with the account ID and password:
 * `{"mobileTerminate": {"message": {"content", "type": "text"}, "destination": {"address": digits},
 * "source": {"ton", "address"}}}`. Success is any 2xx (OpenMarket answers 202 with a Location
 * naming the ticket); anything else, with its `{"error": {"code", "description"}}`, is M_SEND_ERROR.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/load.js';
import { parseOriginators, type Originator } from './config.js';
import { basicAuth, callGateway, jsonBody, sendError } from './gateway.js';
import { callingCode } from './country.js';
import type { SmsSender } from './types.js';

export type OpenMarketConfig = Config['sms']['openmarket'];

export class OpenMarketSender implements SmsSender {
  private readonly authorization: string;
  private readonly originators: Map<string, Originator[]>;

  constructor(private readonly config: OpenMarketConfig, private readonly log: FastifyBaseLogger) {
    for (const key of ['username', 'password'] as const) {
      if (!config[key]) throw new ConfigError(`sms.openmarket.${key}: required when sms.connector is openmarket`);
    }
    this.authorization = basicAuth(config.username, config.password);
    this.originators = new Map(Object.entries(config.originators).map(([code, line]) => [code, parseOriginators(line)]));
  }

  async send(msisdn: string, text: string): Promise<void> {
    const source = this.originator(msisdn);
    const mobileTerminate = {
      message: { content: text, type: 'text' },
      destination: { address: msisdn },
      ...(source ? { source } : {}),
    };
    const response = await callGateway(this.config.url, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ mobileTerminate }),
    }, this.log);
    if (response.ok) {
      this.log.info({ ticket: response.headers.get('location')?.split('/').pop() ?? null }, 'OpenMarket accepted the SMS');
      return;
    }
    const answer = await jsonBody(response) as { error?: { code?: unknown } } | null;
    const code = typeof answer?.error?.code === 'number' ? answer.error.code : null;
    this.log.error({ status: response.status, code, request: response.headers.get('x-request-id') }, 'the SMS gateway refused the message');
    throw sendError();
  }

  /**
   * The senders of the number's calling code, else `default`; among several, the same one for a
   * number every time (its digit sum picks it, as sydent does), so a person's codes come from one sender.
   */
  private originator(msisdn: string): Originator | undefined {
    const candidates = this.originators.get(callingCode(msisdn)) ?? this.originators.get('default');
    if (!candidates) return undefined;
    const digitSum = [...msisdn].reduce((sum, digit) => sum + Number(digit), 0);
    return candidates[digitSum % candidates.length];
  }
}
