/**
 * The Twilio connector: one POST to the Messages resource of Twilio's REST API
 * ({baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json), form-encoded, HTTP basic auth.
 */
import type { FastifyBaseLogger } from 'fastify';
import { MatrixError, badRequest } from '../../core/errors.js';
import type { Config } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/load.js';
import { basicAuth, callGateway, jsonBody, sendError } from './gateway.js';
import type { SmsSender } from './types.js';

/** Twilio error codes that are about the number, not the gateway: the client can act on these. */
const REFUSED_NUMBER: Record<number, () => MatrixError> = {
  21211: () => badRequest('M_INVALID_ADDRESS', 'The phone number is not valid'),
  21614: () => badRequest('M_INVALID_ADDRESS', 'The phone number cannot receive SMS'),
  21408: () => badRequest('M_DESTINATION_REJECTED', 'This identity server cannot send SMS to that country or region'),
  21612: () => badRequest('M_DESTINATION_REJECTED', 'This identity server cannot send SMS to that number'),
};

export type TwilioConfig = Config['sms']['twilio'];

export class TwilioSender implements SmsSender {
  private readonly url: string;
  private readonly authorization: string;

  constructor(private readonly config: TwilioConfig, private readonly log: FastifyBaseLogger) {
    for (const key of ['accountSid', 'authToken', 'from'] as const) {
      if (!config[key]) throw new ConfigError(`sms.twilio.${key}: required when sms.connector is twilio`);
    }
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
    this.authorization = basicAuth(config.accountSid, config.authToken);
  }

  async send(msisdn: string, text: string): Promise<void> {
    const response = await callGateway(this.url, {
      method: 'POST',
      headers: { authorization: this.authorization, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: `+${msisdn}`, From: this.config.from, Body: text }),
    }, this.log);
    const answer = await jsonBody(response) as { code?: unknown } | null;
    if (response.ok) return;
    const code = typeof answer?.code === 'number' ? answer.code : null;
    this.log.error({ status: response.status, code }, 'the SMS gateway refused the message');
    const refused = code === null ? undefined : REFUSED_NUMBER[code];
    throw refused ? refused() : sendError();
  }
}
