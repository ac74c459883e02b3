/**
 * 3PID normalisation, in one place (appendices: 3PID Types). Email: trimmed, Unicode
 * full case folding (`Strauß@Example.com` → `strauss@example.com`). msisdn: E.164 digits
 * without `+`, parsed with the `country` a client gives.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/**
 * Full case folding: NFKC_Casefold is not in JS, but lower-casing the upper-cased text maps the
 * full folds (ß → SS → ss, ﬁ → FI → fi) and NFC keeps composed forms stable.
 */
export function caseFold(text: string): string {
  return text.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/** local@domain.tld: no spaces, control characters (NUL, BEL, DEL…) or the specials that would make it more than an address. */
const EMAIL = /^[^\s\p{Cc}@<>()[\]\\,;:"]+@[^\s\p{Cc}@<>()[\]\\,;:"]+\.[^\s\p{Cc}@<>()[\]\\,;:"]+$/u;

/** The normalised email address, or null when it is not one. */
export function normaliseEmail(address: string): string | null {
  const folded = caseFold(address.trim());
  return folded.length <= 254 && EMAIL.test(folded) ? folded : null;
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
