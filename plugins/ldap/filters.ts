/**
 * The search filters of the LDAP provider. An address never becomes filter text: it travels as
 * the BER-encoded value of an EqualityFilter, so no value can change a filter's structure. The
 * one exception is an operator's query template (`ldap.identity.medium`), where the address is
 * escaped per RFC 4515 (`*`, `(`, `)`, `\`, NUL as \2a \28 \29 \5c \00) before parsing.
 */
import { AndFilter, EqualityFilter, Filter, FilterParser, OrFilter, PresenceFilter } from 'ldapts';

/** An operator-written filter (config), or null when blank. The config check already parsed it once. */
export function operatorFilter(text: string): Filter | null {
  return text.trim() === '' ? null : FilterParser.parseString(text);
}

/** Entries where any of `attributes` equals any of `values`. */
export function anyEqual(attributes: readonly string[], values: readonly string[]): Filter {
  return new OrFilter({ filters: attributes.flatMap((attribute) => values.map((value) => new EqualityFilter({ attribute, value }))) });
}

/** Entries holding at least one of `attributes`. */
export function anyPresent(attributes: readonly string[]): Filter {
  return new OrFilter({ filters: attributes.map((attribute) => new PresenceFilter({ attribute })) });
}

/** An operator's query with every `token` replaced by the escaped `value`. */
export function fromTemplate(template: string, token: string, value: string): Filter {
  return FilterParser.parseString(template.split(token).join(Filter.escape(value)));
}

/** `filter`, restricted to the entries `scope` (the operator's filter) allows. */
export function within(scope: Filter | null, filter: Filter): Filter {
  return scope ? new AndFilter({ filters: [scope, filter] }) : filter;
}
