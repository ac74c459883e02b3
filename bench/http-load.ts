/** The load side of the HTTP benchmark (pinned to the other core): autocannon, as a library, on each route in turn. */
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({ options: { base: { type: 'string' }, token: { type: 'string' }, body: { type: 'string' }, routes: { type: 'string' }, duration: { type: 'string', default: '5' } } });

const routes = values.routes!.split(',');
const options = (route: string) => ({
  url: `${values.base}${route}`,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${values.token}` },
  body: values.body!,
  connections: 8,
});
// Every route warmed up before any is measured, so the first measured does not pay the JIT.
for (const route of routes) await autocannon({ ...options(route), duration: 1 });
const results: Record<string, { rps: number; p50: number; p99: number; non2xx: number; errors: number }> = {};
for (const route of routes) {
  const result = await autocannon({ ...options(route), duration: Number(values.duration) });
  results[route] = { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}
process.stdout.write(`${JSON.stringify(results)}\n`);
