/**
 * Metrics as Prometheus reads them: an app with the metrics plugin on (its listener on a free
 * loopback port), `/metrics` fetched over a real socket, and samples picked out of the text.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { deepMerge, testApp } from './app.js';
import type { BuildOptions } from '../../core/app.js';

export async function metricsApp(overrides: Record<string, unknown> = {}, options: BuildOptions = {}): Promise<FastifyInstance> {
  return testApp(deepMerge({ metrics: { enabled: true, port: 0 } }, overrides), options);
}

export function metricsUrl(app: FastifyInstance): string {
  const { address, port } = app.metricsServer.address() as AddressInfo;
  return `http://${address}:${port}/metrics`;
}

export async function scrape(app: FastifyInstance): Promise<string> {
  const res = await fetch(metricsUrl(app));
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** The value of the sample `name` whose labels include `labels`; 0 when there is none (a counter not yet moved). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2] ? match[2].split(/,(?=[a-zA-Z_]+=")/) : [];
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return 0;
}

/** The metric families declared in the text (`# TYPE name kind`). */
export function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}
