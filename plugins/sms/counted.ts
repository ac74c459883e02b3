/** Counts what a connector sends and fails to send (unisd_sms_sent_total, unisd_sms_failed_total), by connector. */
import type { Counter, Metrics } from '../../core/metrics.js';
import type { SmsSender } from './types.js';

export interface SmsCounters {
  sent: Counter;
  failed: Counter;
}

/** Defined whether or not a connector is configured, so dashboards find them (at zero). */
export const smsCounters = (metrics: Metrics): SmsCounters => ({
  sent: metrics.counter({ name: 'unisd_sms_sent_total', help: 'Text messages the SMS gateway accepted, by connector.', labelNames: ['connector'] }),
  failed: metrics.counter({ name: 'unisd_sms_failed_total', help: 'Text messages the SMS gateway failed or refused, by connector.', labelNames: ['connector'] }),
});

export function countedSender(sender: SmsSender, connector: string, { sent, failed }: SmsCounters): SmsSender {
  const labels = { connector };
  return {
    async send(msisdn, text) {
      try {
        await sender.send(msisdn, text);
        sent.inc(labels);
      } catch (err) {
        failed.inc(labels);
        throw err;
      }
    },
    close: () => sender.close?.(),
  };
}
