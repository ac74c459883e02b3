/**
 * The answers Node's HTTP server and Fastify would write themselves, given Matrix bodies like
 * every other answer: a request Node cannot parse (400), headers over Node's limit (431), a
 * request that timed out (408), an `Expect` other than 100-continue (417), an HTTP/1.1 request
 * without Host (400), and requests arriving while the server closes (503).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { MatrixError } from '../errors.js';

/** Options for Node's server: Host is checked in the onRequest hook below, which answers with a Matrix body. */
export const SERVER_OPTIONS = { requireHostHeader: false };

function clientErrorAnswer(code: string | undefined): MatrixError {
  if (code === 'HPE_HEADER_OVERFLOW') return new MatrixError(431, 'M_TOO_LARGE', 'The request headers are too large');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new MatrixError(408, 'M_UNKNOWN', 'The request was not received in time');
  return new MatrixError(400, 'M_UNRECOGNIZED', 'Malformed request');
}

const statusLine = (status: number) => `HTTP/1.1 ${status} ${STATUS_CODES[status]}`;
const headers = (body: string) => ({
  'content-type': 'application/json',
  'content-length': String(Buffer.byteLength(body)),
  'access-control-allow-origin': '*',
  connection: 'close',
});

/** Fastify's clientErrorHandler: Node found no request it could hand on, so the answer is written to the socket. */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const answer = clientErrorAnswer(err.code);
  this.log.debug({ code: err.code, status: answer.statusCode }, 'client error');
  const body = JSON.stringify(answer.toJSON());
  const head = Object.entries(headers(body)).map(([name, value]) => `${name}: ${value}`).join('\r\n');
  socket.end(`${statusLine(answer.statusCode)}\r\n${head}\r\n\r\n${body}`, () => socket.destroy());
}

export function installFrameworkAnswers(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onRequest', async (request, reply) => {
    let answer: MatrixError | null = null;
    if (closing) answer = new MatrixError(503, 'M_UNKNOWN', 'The server is shutting down');
    else if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) answer = new MatrixError(400, 'M_UNRECOGNIZED', 'Missing Host header');
    if (answer) return reply.code(answer.statusCode).header('connection', 'close').type('application/json').send(answer.toJSON());
  });
  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify(new MatrixError(417, 'M_UNRECOGNIZED', 'Only "Expect: 100-continue" is supported').toJSON());
    response.writeHead(417, headers(body)).end(body);
  });
}
