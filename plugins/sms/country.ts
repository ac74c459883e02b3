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

/** A country as sms.countries names it: an ISO 3166 code (`GB`) or a calling code (`44`, a number when YAML reads it unquoted). */
export const isDestination = (value: unknown): boolean =>
  (typeof value === 'string' && /^([A-Z]{2}|\d{1,3})$/.test(value)) || (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 999);

/** Whether `destinations` (ISO codes and calling codes) names the msisdn's country or calling code. */
export function destinationListed(destinations: ReadonlySet<string>, msisdn: string): boolean {
  const parsed = parsePhoneNumberFromString(`+${msisdn}`);
  return (parsed?.country !== undefined && destinations.has(parsed.country)) || (parsed !== undefined && destinations.has(parsed.countryCallingCode));
}
