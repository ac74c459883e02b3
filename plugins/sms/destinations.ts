/**
 * Where texts may go (sms.countries): a number outside `allow` (when set) or inside `reject` is
 * refused with 400 M_DESTINATION_REJECTED before any limit is spent or anything sent, as sydent's
 * `smsrule.<code> = reject` does.
 */
import type { Config } from '../../core/config/load.js';
import { badRequest } from '../../core/errors.js';
import { destinationListed } from './country.js';
import type { SmsSender } from './types.js';

export class DestinationRules implements SmsSender {
  private readonly allow: ReadonlySet<string>;
  private readonly reject: ReadonlySet<string>;

  constructor(private readonly sender: SmsSender, countries: Config['sms']['countries']) {
    this.allow = new Set(countries.allow.map(String));
    this.reject = new Set(countries.reject.map(String));
  }

  async send(msisdn: string, text: string): Promise<void> {
    if ((this.allow.size > 0 && !destinationListed(this.allow, msisdn)) || destinationListed(this.reject, msisdn)) {
      throw badRequest('M_DESTINATION_REJECTED', 'This identity server does not send SMS to that country');
    }
    await this.sender.send(msisdn, text);
  }

  close(): Promise<void> | void {
    return this.sender.close?.();
  }
}
