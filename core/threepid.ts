/**
 * 3PID normalisation, in one place (appendices: 3PID Types). Email: what Synapse's
 * `canonicalise_email` makes of it (Python's strip, local part case-folded, domain lower-cased:
 * `Strauß@Example.com` → `strauss@example.com`), so that addresses read from Synapse and
 * addresses bound here hash alike. msisdn: E.164 digits without `+`, parsed with the `country` a
 * client gives.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { caseFold, lowerCase, strip } from './unicode-case.js';

/** local@domain.tld: no spaces, control characters (NUL, BEL, DEL…) or the specials that would make it more than an address. */
const EMAIL = /^[^\s\p{Cc}@<>()[\]\\,;:"]+@[^\s\p{Cc}@<>()[\]\\,;:"]+\.[^\s\p{Cc}@<>()[\]\\,;:"]+$/u;

/**
 * The normalised email address, or null when it is not one. The domain is lower-cased, not
 * folded: `straße.de` and `strasse.de` are different IDNA2008 domains.
 */
export function normaliseEmail(address: string): string | null {
  const parts = strip(address).split('@');
  if (parts.length !== 2) return null;
  const canonical = `${caseFold(parts[0]!)}@${lowerCase(parts[1]!)}`;
  return canonical.length <= 254 && EMAIL.test(canonical) ? canonical : null;
}

/**
 * E.164 digits without '+', or null when the text is not a phone number. A number without
 * country (or already international) is read as international. Only the length is checked
 * (isPossible): the ranges reserved for fiction (UK 07700 900xxx) that clients, the spec's
 * examples and tests use are not "valid" numbers, and deliverability is the SMS gateway's call.
 */
export function normaliseMsisdn(phoneNumber: string, country?: string): string | null {
  const text = phoneNumber.trim();
  const parsed = parsePhoneNumberFromString(/^\d+$/.test(text) && !country ? `+${text}` : text, country?.toUpperCase() as CountryCode | undefined);
  return parsed && parsed.isPossible() ? parsed.number.slice(1) : null;
}

/** A normalised msisdn in international format for people (`447700900001` → `+44 7700 900001`). */
export function formatMsisdn(msisdn: string): string {
  return parsePhoneNumberFromString(`+${msisdn}`)?.formatInternational() ?? `+${msisdn}`;
}

/** Normalises an address of any medium; unknown media are only trimmed. Invalid addresses are returned trimmed. */
export function normaliseAddress(medium: string, address: string): string {
  if (medium === 'email') return normaliseEmail(address) ?? address.trim();
  if (medium === 'msisdn') return normaliseMsisdn(address) ?? address.trim();
  return address.trim();
}
