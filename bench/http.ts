/**
 * 2. Over HTTP on loopback: the server pinned to core 1, autocannon in a separate process pinned
 * to core 0 (taskset), the real POST /v2/lookup with 1000 hashes (half hits) beside the three
 * reference routes of bench/http-server.ts, each as a ratio to (a). Then the real lookup with two
 * server processes (unpinned), as a ratio to its one-core figure. 8. The same against an MSC4004
 * hub holding third-party mappings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Row } from './report.js';

const LOOKUP = '/_matrix/identity/v2/lookup';
const ROUTES: Array<[route: string, name: string]> = [
  ['/bench/parse', '(a) bare route: parse the body, answer {}'],
  ['/bench/prebuilt', '(b) same body, answer the real answer\'s bytes prepared'],
  ['/bench/naive', '(c) naive Map<string,string>, Fastify serialises'],
  [LOOKUP, 'POST /v2/lookup (unisd)'],
];

function node(args: string[], cpu: string | null): ChildProcess {
  const command = cpu === null ? [process.execPath, ...args] : ['taskset', '-c', cpu, process.execPath, ...args];
  return spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
}

async function firstLine(child: ChildProcess): Promise<string> {
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`benchmark process exited (${code})`); });
  const line = new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return Promise.race([line, exited]);
}

type Results = Record<string, { rps: number; p50: number; p99: number; non2xx: number; errors: number }>;

async function run(count: number, workers: number, routes: string[], duration: number, pinned: boolean): Promise<Results> {
  return (await runServer(count, workers, routes, duration, pinned, 0)).results;
}

/** With `thirdParty` > 0, the server is a hub its members pushed that many hashes to (pushSeconds: how long it took). */
async function runServer(count: number, workers: number, routes: string[], duration: number, pinned: boolean, thirdParty: number): Promise<{ results: Results; pushSeconds: number }> {
  const server = node(['--expose-gc', '--import', 'tsx', 'bench/http-server.ts', '--count', String(count), '--workers', String(workers), '--third-party', String(thirdParty)], pinned ? '1' : null);
  try {
    const { base, token, body, pushSeconds } = JSON.parse(await firstLine(server));
    // --name=value: a token may begin with a dash.
    const load = node(['--import', 'tsx', 'bench/http-load.ts', `--base=${base}`, `--token=${token}`, `--body=${body}`, `--routes=${routes.join(',')}`, `--duration=${duration}`], '0');
    const results = JSON.parse(await firstLine(load)) as Results;
    for (const [route, r] of Object.entries(results)) if (r.non2xx > 0 || r.errors > 0) throw new Error(`${route}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    return { results, pushSeconds };
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit').catch(() => {});
  }
}

export async function http(count: number, duration: number): Promise<Row[]> {
  const section = `2. HTTP, N=${count.toLocaleString('en-US')}, 1000 hashes`;
  const one = await run(count, 1, ROUTES.map(([route]) => route), duration, true);
  const ceiling = one['/bench/parse'].rps;
  const rows: Row[] = ROUTES.map(([route, name]) => ({
    section, measure: name, value: one[route].rps, unit: 'req/s',
    note: `${(one[route].rps / ceiling).toFixed(2)} of (a); p50 ${one[route].p50} ms, p99 ${one[route].p99} ms`,
  }));
  const two = await run(count, 2, [LOOKUP], duration, false);
  rows.push({
    section, measure: 'POST /v2/lookup, 2 server processes (unpinned)', value: two[LOOKUP].rps, unit: 'req/s',
    note: `${(two[LOOKUP].rps / one[LOOKUP].rps).toFixed(2)}× one core; p50 ${two[LOOKUP].p50} ms, p99 ${two[LOOKUP].p99} ms; load still on core 0`,
  });
  return rows;
}

/**
 * 8. The MSC4004 hub: POST /v2/lookup with `thirdParty` member hashes pushed (two members) beside
 * N of its own, a quarter of each request's hashes being members', as a ratio to (a) of the same
 * run; and how long the hub took to take the pushes (chunks of 50,000, committed and indexed).
 */
export async function unifiedView(count: number, thirdParty: number, duration: number): Promise<Row[]> {
  const section = `8. hub, N=${count.toLocaleString('en-US')} + ${thirdParty.toLocaleString('en-US')} third-party`;
  const { results, pushSeconds } = await runServer(count, 1, ['/bench/parse', LOOKUP], duration, true, thirdParty);
  const ceiling = results['/bench/parse'].rps;
  const row = (route: string, name: string): Row => ({
    section, measure: name, value: results[route].rps, unit: 'req/s',
    note: `${(results[route].rps / ceiling).toFixed(2)} of (a); p50 ${results[route].p50} ms, p99 ${results[route].p99} ms`,
  });
  return [
    { section, measure: 'members push their hashes (POST /v2/lookups, 50,000 a chunk)', value: +pushSeconds.toFixed(1), unit: 's', note: `${Math.round(thirdParty / pushSeconds / 1000)}k hashes/s, stored, committed and indexed` },
    row('/bench/parse', '(a) bare route: parse the body, answer {}'),
    row(LOOKUP, 'POST /v2/lookup, third_party_mappings answered'),
  ];
}
