/**
 * The generic HTTP connector, for gateways without a connector of their own: one request as
 * `sms.http` describes it (method, URL, headers, a JSON or form body built from a template). In
 * the URL and in every text value of the body, {to} becomes the number in E.164 (+447700900001),
 * {msisdn} its digits, {text} the message and {secret} sms.http.secret (also in header values).
 * Any 2xx answer is success.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/load.js';
import { isPlainObject } from '../../core/config/formats.js';
import { callGateway, sendError } from './gateway.js';
import type { SmsSender } from './types.js';

export type HttpSmsConfig = Config['sms']['http'];

const PLACEHOLDER = /\{(to|msisdn|text|secret)\}/g;

type Values = Record<'to' | 'msisdn' | 'text' | 'secret', string>;

/** Replaces the placeholders in every text value (not in keys), at any depth. */
function fill(template: unknown, values: Values): unknown {
  if (typeof template === 'string') return template.replace(PLACEHOLDER, (_, name: keyof Values) => values[name]);
  if (Array.isArray(template)) return template.map((item) => fill(item, values));
  if (isPlainObject(template)) return Object.fromEntries(Object.entries(template).map(([key, item]) => [key, fill(item, values)]));
  return template;
}

export class HttpSmsSender implements SmsSender {
  private readonly headers: Record<string, string>;

  constructor(private readonly config: HttpSmsConfig, private readonly log: FastifyBaseLogger) {
    if (!/^https?:\/\/[^/\s?#]+(\/\S*)?$/.test(config.url)) throw new ConfigError('sms.http.url: expected an http(s) URL such as "https://sms.example.org/send?to={to}" when sms.connector is http');
    if (config.method === 'GET' && config.bodyFormat !== 'none') throw new ConfigError('sms.http.bodyFormat: expected none when sms.http.method is GET');
    if (config.bodyFormat === 'form') {
      const nested = Object.keys(config.body).find((key) => typeof config.body[key] === 'object' && config.body[key] !== null);
      if (nested !== undefined) throw new ConfigError(`sms.http.body.${nested}: expected text, a number or a boolean when sms.http.bodyFormat is form`);
    }
    this.headers = fill(config.headers, { to: '', msisdn: '', text: '', secret: config.secret }) as Record<string, string>;
  }

  async send(msisdn: string, text: string): Promise<void> {
    const values: Values = { to: `+${msisdn}`, msisdn, text, secret: this.config.secret };
    const url = this.config.url.replace(PLACEHOLDER, (_, name: keyof Values) => encodeURIComponent(values[name]));
    const body = fill(this.config.body, values) as Record<string, unknown>;
    const encoded = this.config.bodyFormat === 'json'
      ? { type: 'application/json', body: JSON.stringify(body) }
      : this.config.bodyFormat === 'form'
        ? { type: 'application/x-www-form-urlencoded', body: new URLSearchParams(Object.entries(body).map(([key, value]): [string, string] => [key, String(value)])).toString() }
        : null;
    const response = await callGateway(url, {
      method: this.config.method,
      headers: { ...(encoded ? { 'content-type': encoded.type } : {}), ...this.headers },
      ...(encoded ? { body: encoded.body } : {}),
    }, this.log);
    await response.body?.cancel();
    if (response.ok) return;
    this.log.error({ status: response.status }, 'the SMS gateway refused the message');
    throw sendError();
  }
}
