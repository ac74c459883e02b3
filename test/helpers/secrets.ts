/** A value for each sensitive configuration key, holding `secret-<its env var>` where the key takes one. */
import type { ConfigKey } from '../../core/config/formats.js';

/** Secrets are text, but for lists holding them (the unified-view members and their shared secrets), given as JSON. */
export function secretValue(env: string, spec: ConfigKey, prefix = 'secret'): string {
  const secret = `${prefix}-${env}`;
  return Array.isArray(spec.default) ? JSON.stringify([{ server: 'member.example.org', secret }]) : secret;
}
