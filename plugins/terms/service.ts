/**
 * Terms of service (MSC2140) in the seed's format. A policy applies to a request when one of
 * its `regexp` matches the request path; the user must have accepted its current version.
 */
import type { TermsStore } from '../../core/store/port.js';
import type { PolicyConfig } from './config.js';
import { forbidden } from '../../core/errors.js';

interface Policy {
  name: string;
  version: string;
  terms: Record<string, { name: string; url: string }>;
  patterns: RegExp[];
}

export class TermsService {
  private readonly policies: Policy[];

  constructor(private readonly store: TermsStore, config: Record<string, PolicyConfig>) {
    // A pattern must match the whole path, as ma1sd's and Java's matches() do.
    this.policies = Object.entries(config).map(([name, p]) => ({
      name, version: p.version, terms: p.terms, patterns: (p.regexp ?? []).map((r) => new RegExp(`^(?:${r})$`)),
    }));
  }

  /** The body of GET /terms. */
  describe(): { policies: Record<string, Record<string, unknown>> } {
    const policies: Record<string, Record<string, unknown>> = {};
    for (const p of this.policies) policies[p.name] = { version: p.version, ...p.terms };
    return { policies };
  }

  /** Records acceptance of the policies any of whose URLs (any language) are in `urls`. */
  async accept(userId: string, urls: string[]): Promise<void> {
    const accepted = this.policies
      .filter((p) => Object.values(p.terms).some((t) => urls.includes(t.url)))
      .map((p) => ({ policy: p.name, version: p.version }));
    if (accepted.length > 0) await this.store.accept(userId, accepted);
  }

  /** Throws 403 M_TERMS_NOT_SIGNED unless the user accepted every policy guarding `path`. */
  async requireAccepted(userId: string, path: string): Promise<void> {
    const guarding = this.policies.filter((p) => p.patterns.some((re) => re.test(path)));
    if (guarding.length === 0) return;
    const accepted = await this.store.accepted(userId);
    const missing = guarding.filter((p) => !accepted.some((a) => a.policy === p.name && a.version === p.version));
    if (missing.length > 0) throw forbidden('M_TERMS_NOT_SIGNED', 'Please accept our updated terms of service before continuing');
  }
}
