/**
 * An identity backend written for ma1sd's REST store, on a real loopback socket: single and
 * bulk lookups at ma1sd's default paths, and unisd's paged listing
 * (`GET /_unisd/backend/api/v1/identity/all?limit=N&since=<cursor>`), which generates
 * `listed` extra mappings as pages are asked (the server holds none of them). `behaviour`
 * switches it to hanging (accepts requests, never answers) or answering an oversized body.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BackendItem {
  medium: string;
  address: string;
  id: { type: string; value: string };
}

export interface Ma1sdBackend {
  url: string;
  /** Authorization headers received, in order. */
  authorizations: Array<string | undefined>;
  /** Listing pages served. */
  pages: number;
  behaviour: 'answer' | 'hang' | 'oversized';
  close(): Promise<void>;
}

const comparable = (medium: string, address: string) => (medium === 'msisdn' ? address.replace(/\D/g, '') : address.toLowerCase());

async function readJson(request: IncomingMessage): Promise<any> {
  let text = '';
  for await (const chunk of request) text += chunk;
  return JSON.parse(text);
}

function send(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

export async function startMa1sdBackend(entries: BackendItem[], listed = 0): Promise<Ma1sdBackend> {
  const find = (medium: string, address: string) => entries.find((e) => e.medium === medium && comparable(e.medium, e.address) === comparable(medium, address));
  const generated = (i: number): BackendItem => ({ medium: 'email', address: `User${i}@Example.org`, id: { type: 'mxid', value: `@user${i}:example.org` } });
  const server = createServer(async (request, response) => {
    backend.authorizations.push(request.headers.authorization);
    if (backend.behaviour === 'hang') return;
    if (backend.behaviour === 'oversized') {
      // 8 MB of a valid answer, chunked (no Content-Length to refuse it by).
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"lookup": [');
      const item = JSON.stringify(generated(0));
      for (let i = 0; i < 8192; i++) {
        if (!response.write(`${i ? ',' : ''}${Array(1024 / item.length | 0).fill(item).join(',')}`)) await new Promise((r) => response.once('drain', r));
        if (response.destroyed) return;
      }
      response.end(']}');
      return;
    }
    const url = new URL(request.url ?? '/', 'http://backend');
    if (request.method === 'POST' && url.pathname === '/_ma1sd/backend/api/v1/identity/single') {
      const { lookup } = await readJson(request);
      const entry = find(lookup.medium, lookup.address);
      send(response, entry ? { lookup: entry } : {});
    } else if (request.method === 'POST' && url.pathname === '/_ma1sd/backend/api/v1/identity/bulk') {
      const { lookup } = await readJson(request);
      send(response, { lookup: lookup.flatMap((t: { medium: string; address: string }) => find(t.medium, t.address) ?? []) });
    } else if (request.method === 'GET' && url.pathname === '/_unisd/backend/api/v1/identity/all') {
      backend.pages++;
      const limit = Number(url.searchParams.get('limit'));
      const from = Number(url.searchParams.get('since') ?? 0);
      const total = entries.length + listed;
      const mappings = [];
      for (let i = from; i < Math.min(from + limit, total); i++) mappings.push(i < entries.length ? entries[i] : generated(i - entries.length));
      send(response, { mappings, next: from + limit < total ? String(from + limit) : null });
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"errcode":"M_NOT_FOUND"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const backend: Ma1sdBackend = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizations: [],
    pages: 0,
    behaviour: 'answer',
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return backend;
}
