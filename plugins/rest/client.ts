/**
 * HTTP calls to the operator's backend (undici): JSON in and out, an optional bearer token, a
 * deadline per request (and the caller's signal), and a cap on the answer's size. The backend's
 * URLs are trusted configuration, so no SSRF guard applies (that guard is for hosts a client
 * names, see core/federation/http.ts); errors name the endpoint, never the 3PID or the body.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import { ProtocolError } from './protocol.js';

export interface RestClientOptions {
  /** ms, per request. */
  timeout: number;
  maxResponseBytes: number;
  bearerToken: string;
}

export class RestError extends Error {
  override name = 'RestError';
}

export class RestClient {
  private readonly agent: Agent;

  constructor(private readonly options: RestClientOptions) {
    this.agent = new Agent({
      maxResponseSize: options.maxResponseBytes,
      connect: { timeout: options.timeout },
      headersTimeout: options.timeout,
      bodyTimeout: options.timeout,
    });
  }

  /** Sends `body` (POST) or nothing (GET) to `url` and returns the parsed JSON answer; `what` names the endpoint in errors. */
  async call(what: string, url: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.bearerToken) headers.authorization = `Bearer ${this.options.bearerToken}`;
    let text: string;
    try {
      const response = await request(url, {
        dispatcher: this.agent,
        method: body === undefined ? 'GET' : 'POST',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeout)]),
      });
      if (response.statusCode < 200 || response.statusCode > 299) {
        await response.body.dump();
        throw new RestError(`the backend's ${what} endpoint answered HTTP ${response.statusCode}`);
      }
      text = await response.body.text();
    } catch (err) {
      throw describe(err, what, this.options);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ProtocolError(`the backend's ${what} endpoint answered something that is not JSON`);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function describe(err: unknown, what: string, options: RestClientOptions): Error {
  if (err instanceof RestError) return err;
  if (err instanceof undiciErrors.ResponseExceededMaxSizeError) {
    return new RestError(`the backend's ${what} endpoint answered more than ${options.maxResponseBytes} bytes (rest.maxResponseBytes)`);
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError' || err instanceof undiciErrors.RequestAbortedError
    || err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError)) {
    return new RestError(`the backend's ${what} endpoint did not answer in time`);
  }
  const cause = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.name) : 'unknown error';
  return new RestError(`the backend's ${what} endpoint is unreachable (${cause})`);
}
