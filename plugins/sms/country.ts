/** Where a phone number goes, for per-country limits and per-country senders. */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** The calling code of an msisdn (E.164 digits): `447700900001` → `44`; '' when none is known. */
export function callingCode(msisdn: string): string {
  return parsePhoneNumberFromString(`+${msisdn}`)?.countryCallingCode ?? '';
}

/**
 * The country an msisdn belongs to (ISO 3166 region, `GB`), or `+<calling code>` when no region
 * claims it (an unassigned range of a code shared by several countries, a global service number).
 */
export function smsCountry(msisdn: string): string {
  const parsed = parsePhoneNumberFromString(`+${msisdn}`);
  return parsed?.country ?? `+${parsed?.countryCallingCode ?? '?'}`;
}
