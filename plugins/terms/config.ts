/** The `policy` section (the seed's): terms of service, checked beyond what convict can say. */
import { checkKeys, isPlainObject } from '../../core/config/formats.js';

/** One terms policy as the seed writes it; `version` is always text after loading (1.0 stays "1.0"). */
export interface PolicyConfig {
  version: string;
  terms: Record<string, { name: string; url: string }>;
  regexp?: string[];
}

export const POLICIES_EXPECTED = 'a map of policy name to {version, terms: {<lang>: {name, url}}, regexp: [...]}';

/** The seed's `policy.policies` (MSC2140 terms). */
export function checkPolicies(value: unknown): void {
  if (!isPlainObject(value)) throw new Error(`expected ${POLICIES_EXPECTED}`);
  for (const [name, policy] of Object.entries(value)) {
    if (!isPlainObject(policy)) throw new Error(`${name}: expected {version, terms, regexp}`);
    checkKeys(policy, ['version', 'terms', 'regexp'], `${name}.`);
    if (!((typeof policy.version === 'string' && policy.version.trim() !== '') || typeof policy.version === 'number')) {
      throw new Error(`${name}.version: expected a version such as 1.0`);
    }
    if (!isPlainObject(policy.terms) || Object.keys(policy.terms).length === 0) {
      throw new Error(`${name}.terms: expected at least one language with {name, url}`);
    }
    for (const [lang, text] of Object.entries(policy.terms)) {
      if (!isPlainObject(text)) throw new Error(`${name}.terms.${lang}: expected {name, url}`);
      checkKeys(text, ['name', 'url'], `${name}.terms.${lang}.`);
      if (typeof text.name !== 'string') throw new Error(`${name}.terms.${lang}.name: expected text`);
      if (typeof text.url !== 'string' || !/^https?:\/\/\S+$/.test(text.url)) throw new Error(`${name}.terms.${lang}.url: expected an http(s) URL`);
    }
    if (policy.regexp === undefined) continue;
    if (!Array.isArray(policy.regexp)) throw new Error(`${name}.regexp: expected a list of regular expressions`);
    policy.regexp.forEach((pattern: unknown, i) => {
      if (typeof pattern !== 'string') throw new Error(`${name}.regexp[${i}]: expected a regular expression (text)`);
      try { new RegExp(pattern); } catch { throw new Error(`${name}.regexp[${i}]: expected a valid regular expression`); }
    });
  }
}


export const policySection = {
  policies: {
    doc: 'Terms of service (MSC2140): name → {version, terms.<lang>.{name,url}, regexp[]}. None disables terms.',
    format: Object,
    check: checkPolicies,
    expected: POLICIES_EXPECTED,
    // YAML reads `version: 1.0` as the number 1: the version is taken as written, and kept as text.
    numbersAsWritten: true,
    normalise: (policies: Record<string, PolicyConfig>) => {
      for (const policy of Object.values(policies)) policy.version = String(policy.version);
      return policies;
    },
    default: {} as Record<string, PolicyConfig>,
  },
};
