/**
 * SMS: `app.sms`, the connector chosen by sms.connector behind the destination rules and the SMS
 * rate limits, or null for none; the validation plugin then refuses msisdn requestToken with 400
 * M_UNRECOGNIZED. Each connector is one file; adding one is a file and a line in CONNECTORS (and
 * its config section).
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../../core/config/load.js';
import type { SmsConnectorName } from './config.js';
import { DestinationRules } from './destinations.js';
import { HttpSmsSender } from './http.js';
import { InfobipSender } from './infobip.js';
import { OpenMarketSender } from './openmarket.js';
import { RateLimitedSms } from './rate-limit.js';
import { SnsSender } from './sns.js';
import { TwilioSender } from './twilio.js';
import { countedSender, smsCounters } from './counted.js';
import type { SmsSender } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    sms: SmsSender | null;
  }
}

const CONNECTORS: Record<SmsConnectorName, (sms: Config['sms'], log: FastifyBaseLogger) => SmsSender> = {
  twilio: (sms, log) => new TwilioSender(sms.twilio, log),
  openmarket: (sms, log) => new OpenMarketSender(sms.openmarket, log),
  infobip: (sms, log) => new InfobipSender(sms.infobip, log),
  sns: (sms, log) => new SnsSender(sms.sns, log),
  http: (sms, log) => new HttpSmsSender(sms.http, log),
};

export default async function smsPlugin(app: FastifyInstance): Promise<void> {
  const { sms } = app.config;
  const counters = smsCounters(app.metrics);
  if (sms.connector === 'none') {
    app.decorate('sms', null);
    return;
  }
  const connector = CONNECTORS[sms.connector as SmsConnectorName](sms, app.log.child({ plugin: 'sms', connector: sms.connector }));
  const counted = countedSender(connector, sms.connector, counters);
  const sender = new DestinationRules(new RateLimitedSms(counted, sms.rateLimit, app.metrics, app.limitStore), sms.countries);
  app.decorate('sms', sender);
  app.addHook('onClose', async () => sender.close());
}
