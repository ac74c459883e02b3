/**
 * SMS: `app.sms`, the connector chosen by sms.connector (twilio), or null for none; the
 * validation plugin then refuses msisdn requestToken with 400 M_UNRECOGNIZED.
 */
import type { FastifyInstance } from 'fastify';
import { TwilioSender } from './twilio.js';
import type { SmsSender } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    sms: SmsSender | null;
  }
}

export default async function smsPlugin(app: FastifyInstance): Promise<void> {
  const { sms } = app.config;
  app.decorate('sms', sms.connector === 'twilio' ? new TwilioSender(sms.twilio, app.log.child({ plugin: 'sms' })) : null);
}
