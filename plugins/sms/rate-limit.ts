/**
 * SMS rate limits, whatever the connector: texts per phone number and per destination country
 * (sms.rateLimit.*). Toll fraud is the main abuse of SMS validation: requests for numbers in
 * premium ranges the fraudster is paid for, spread over many numbers of one country, which a
 * per-number or per-requester limit does not stop. Every attempt counts, sent or not: a failed
 * one may still be billed.
 */
import { RateLimiter, consumeAll } from '../../core/rate-limit.js';
import type { LimitStore } from '../../core/limit-stores/store.js';
import type { Config } from '../../core/config/load.js';
import type { Metrics } from '../../core/metrics.js';
import { smsCountry } from './country.js';
import type { SmsSender } from './types.js';

export class RateLimitedSms implements SmsSender {
  private readonly perNumber: RateLimiter;
  private readonly perCountry: RateLimiter;

  constructor(private readonly sender: SmsSender, limits: Config['sms']['rateLimit'], metrics?: Metrics, store?: LimitStore) {
    this.perNumber = new RateLimiter(limits.perNumber, limits.window, { name: 'sms.rateLimit.perNumber', metrics, store });
    this.perCountry = new RateLimiter(limits.perCountry, limits.window, { name: 'sms.rateLimit.perCountry', metrics, store });
  }

  /** 429 M_LIMIT_EXCEEDED (with retry_after_ms) before anything is sent when either budget is spent. */
  async send(msisdn: string, text: string): Promise<void> {
    const country = smsCountry(msisdn);
    await consumeAll([[this.perNumber, msisdn], [this.perCountry, country]]);
    await this.sender.send(msisdn, text);
  }

  close(): Promise<void> | void {
    return this.sender.close?.();
  }
}
