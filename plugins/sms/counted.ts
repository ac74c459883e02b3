/** Counts what a connector sends and fails to send (unisd_sms_sent_total, unisd_sms_failed_total), by connector. */
import type { Metrics } from '../../core/metrics.js';
import type { SmsSender } from './types.js';

export function countedSender(sender: SmsSender, connector: string, metrics: Metrics): SmsSender {
  const labels = { connector };
  const sent = metrics.counter({ name: 'unisd_sms_sent_total', help: 'Text messages the SMS gateway accepted, by connector.', labelNames: ['connector'] });
  const failed = metrics.counter({ name: 'unisd_sms_failed_total', help: 'Text messages the SMS gateway failed or refused, by connector.', labelNames: ['connector'] });
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
  };
}
