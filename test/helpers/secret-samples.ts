/**
 * A valid value for a sensitive configuration key, carrying a recognisable secret text: plain
 * text for most, a JSON list for the lists that hold secrets (the hub's members, the member's
 * hubs), as an operator gives them in the environment.
 */
export function secretSample(env: string, secret = `env-secret-${env}`): string {
  if (env === 'UNISD_UNIFIED_VIEW_MEMBERS') return JSON.stringify([{ server: 'member.example.org', secret }]);
  if (env === 'UNISD_UNIFIED_VIEW_PUSH_HUBS') return JSON.stringify([{ url: 'https://hub.example.org', server: 'hub.example.org', auth: 'secret', secret }]);
  return secret;
}
