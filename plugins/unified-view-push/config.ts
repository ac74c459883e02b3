/**
 * The hubs a member pushes to (`unifiedViewPush.hubs`): each one's base URL, its server name
 * (the X-Matrix destination) and how this server authenticates to it.
 */
import { addFormat, checkKeys, isPlainObject, tryJson } from '../../core/config/formats.js';

export interface HubConfig {
  /** Base URL of the hub, e.g. https://id.hub.example.org. */
  url: string;
  /** The hub's server.name: the destination its X-Matrix signatures are checked against. */
  server: string;
  /** signature: X-Matrix signed with this server's ed25519 key; secret: the shared secret. */
  auth: 'signature' | 'secret';
  secret?: string;
}

export const HUBS_EXPECTED = 'a list of {url, server, auth: signature|secret, secret (with auth: secret)}';

const URL_PATTERN = /^https?:\/\/[^/\s?#]+(\/\S*)?$/;
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

function checkHubs(value: unknown): void {
  if (!Array.isArray(value)) throw new Error(`expected ${HUBS_EXPECTED}`);
  const urls = new Set<string>();
  value.forEach((hub: unknown, i) => {
    const where = `[${i}]`;
    if (!isPlainObject(hub)) throw new Error(`${where}: expected {url, server, auth}`);
    checkKeys(hub, ['url', 'server', 'auth', 'secret'], `${where}.`);
    if (typeof hub.url !== 'string' || !URL_PATTERN.test(hub.url) || /[?#]/.test(hub.url)) {
      throw new Error(`${where}.url: expected the hub's base URL such as "https://id.hub.example.org" (no query)`);
    }
    if (urls.has(hub.url)) throw new Error(`${where}.url: listed twice`);
    urls.add(hub.url);
    if (typeof hub.server !== 'string' || !SERVER_NAME.test(hub.server)) {
      throw new Error(`${where}.server: expected the hub's server.name such as "id.hub.example.org" (no https://, no path)`);
    }
    if (hub.auth !== 'signature' && hub.auth !== 'secret') throw new Error(`${where}.auth: expected signature or secret`);
    if (hub.auth === 'secret' && (typeof hub.secret !== 'string' || hub.secret.length < 16)) {
      throw new Error(`${where}.secret: expected the shared secret the hub lists for this server (16 characters or more) with auth: secret`);
    }
    if (hub.auth === 'signature' && hub.secret !== undefined) throw new Error(`${where}.secret: only with auth: secret`);
  });
}

addFormat('unified-view-hubs', HUBS_EXPECTED, (v) => {
  checkHubs(v);
  return true;
}, tryJson);

/** Base URL without its trailing slash: routes are appended to it. */
export const baseUrl = (url: string): string => url.replace(/\/+$/, '');
