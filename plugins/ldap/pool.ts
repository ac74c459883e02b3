/**
 * Connections to the directory: a few bound connections reused between lookups, opened on the
 * first server that answers (failover in the configured order), with a deadline on connecting,
 * binding and every request, and the caller's AbortSignal honoured at every step. A connection
 * that failed, timed out or was abandoned mid-request is closed, never reused; one the server
 * closed while idle is replaced (and a search that found it dead is retried once on a new one).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError, type Entry, type SearchOptions } from 'ldapts';
import { bareHost } from '../../core/federation/server-name.js';

export interface PoolOptions {
  /** ldap:// or ldaps:// URLs, in failover order. */
  servers: string[];
  startTls: boolean;
  tls: ConnectionOptions;
  /** Empty for an anonymous bind. */
  bindDn: string;
  bindPassword: string;
  /** Milliseconds allowed to connect, to bind, and to each request. */
  timeout: number;
  /** Connections open at once. */
  size: number;
}

/** A server that failed is tried after the others for this long. */
const SERVER_DOWN_FOR = 30_000;

const abortError = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error('LDAP request aborted'));

/** `work`, or a rejection as soon as `signal` aborts (after `onAbort` has cancelled the work). */
function untilAborted<T>(signal: AbortSignal, work: Promise<T>, onAbort: () => void): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    onAbort();
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', abort); resolve(value); },
      (err) => { signal.removeEventListener('abort', abort); reject(err); },
    );
  });
}

/** An LDAP error answer (no such object, size limit…): the connection itself is fine. */
const connectionSurvives = (err: unknown): boolean => err instanceof ResultCodeError;

interface Pooled {
  client: Client;
  /** Taken from the idle list (may have gone stale) rather than just opened. */
  reused: boolean;
}

export class LdapPool {
  private readonly idle: Client[] = [];
  private open = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly downUntil = new Map<string, number>();
  private closed = false;
  private readonly sockets = new WeakMap<Client, Socket[]>();

  constructor(private readonly options: PoolOptions) {
    if (options.servers.length === 0) throw new Error('LDAP pool needs at least one server');
  }

  /** Every entry of one search (one request: bounded by sizeLimit and the server's own limits). */
  async search(signal: AbortSignal, baseDN: string, options: SearchOptions): Promise<Entry[]> {
    for (;;) {
      const pooled = await this.acquire(signal);
      let survives = false;
      try {
        const { searchEntries } = await untilAborted(signal, pooled.client.search(baseDN, options), () => this.drop(pooled.client));
        survives = true;
        return searchEntries;
      } catch (err) {
        survives = connectionSurvives(err);
        // A reused connection the server had closed while idle: once more on a fresh one.
        if (!survives && pooled.reused && !signal.aborted && !this.closed) continue;
        throw err;
      } finally {
        this.release(pooled.client, survives);
      }
    }
  }

  /**
   * A paged search (RFC 2696), one page of entries per iteration, the next page asked for only
   * when the consumer wants it: memory holds one page whatever the directory's size. The
   * connection is held until the last page (the server ties the paging cookie to it).
   */
  async *pages(signal: AbortSignal, baseDN: string, options: SearchOptions): AsyncGenerator<Entry[]> {
    for (;;) {
      const pooled = await this.acquire(signal);
      let finished = false;
      let yielded = false;
      try {
        const pages = pooled.client.searchPaginated(baseDN, options);
        for (;;) {
          const page = await untilAborted(signal, pages.next(), () => this.drop(pooled.client));
          if (page.done) break;
          yielded = true;
          yield page.value.searchEntries;
        }
        finished = true;
        return;
      } catch (err) {
        if (!yielded && pooled.reused && !connectionSurvives(err) && !signal.aborted && !this.closed) continue;
        throw err;
      } finally {
        // Left early (consumer stopped, abort, error): the server still holds the paged search; close it.
        this.release(pooled.client, finished);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle.splice(0);
    this.open -= idle.length;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(idle.map((client) => client.unbind().catch(() => {})));
  }

  private async acquire(signal: AbortSignal): Promise<Pooled> {
    for (;;) {
      if (this.closed) throw new Error('LDAP pool is closed');
      const idle = this.idle.pop();
      if (idle?.isBound) return { client: idle, reused: true };
      if (idle) {
        this.open--;
        this.drop(idle);
      } else if (this.open < this.options.size) {
        break;
      } else {
        await this.waitForSlot(signal);
      }
    }
    this.open++;
    try {
      return { client: await this.connect(signal), reused: false };
    } catch (err) {
      this.open--;
      this.wakeOne();
      throw err;
    }
  }

  private release(client: Client, healthy: boolean): void {
    if (healthy && !this.closed && client.isBound) {
      this.idle.push(client);
    } else {
      this.open--;
      this.drop(client);
    }
    this.wakeOne();
  }

  private waitForSlot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        const i = this.waiting.indexOf(wake);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(abortError(signal));
      };
      signal.addEventListener('abort', abort, { once: true });
      this.waiting.push(wake);
    });
  }

  private wakeOne(): void {
    // An idle connection or a free slot: let one waiter retry.
    this.waiting.shift()?.();
  }

  /** Servers not known to be down first, in configured order; then the ones that are (rather than none). */
  private serverOrder(): string[] {
    const now = Date.now();
    const up = this.options.servers.filter((url) => (this.downUntil.get(url) ?? 0) <= now);
    return [...up, ...this.options.servers.filter((url) => !up.includes(url))];
  }

  private async connect(signal: AbortSignal): Promise<Client> {
    let lastError: unknown;
    for (const url of this.serverOrder()) {
      if (signal.aborted) throw abortError(signal);
      const client = this.newClient(url);
      try {
        await untilAborted(signal, this.bind(client, url), () => this.drop(client));
        this.downUntil.delete(url);
        return client;
      } catch (err) {
        this.drop(client);
        if (signal.aborted) throw err;
        this.downUntil.set(url, Date.now() + SERVER_DOWN_FOR);
        lastError = err;
      }
    }
    throw lastError;
  }

  private async bind(client: Client, url: string): Promise<void> {
    if (this.options.startTls) {
      // The upgraded socket knows no host name: give it the server's, to check the certificate against (and for SNI).
      const host = bareHost(new URL(url).hostname);
      await client.startTLS({ ...this.options.tls, host, ...(isIP(host) ? {} : { servername: host }) });
    }
    // An empty DN and password is the anonymous simple bind (RFC 4513 5.1.1); it also opens the connection.
    await client.bind(this.options.bindDn, this.options.bindPassword);
  }

  /** A client whose sockets (plain, ldaps:// or STARTTLS-upgraded) are known, so drop() can destroy them in any state. */
  private newClient(url: string): Client {
    const sockets: Socket[] = [];
    const track = <S extends Socket>(socket: S): S => {
      socket.on('error', () => {});
      sockets.push(socket);
      return socket;
    };
    const client = new Client({
      url, timeout: this.options.timeout, connectTimeout: this.options.timeout, strictDN: false,
      createConnection: ((...args: Parameters<typeof netConnect>) => track(netConnect(...args))) as typeof netConnect,
      createSecureConnection: ((...args: Parameters<typeof tlsConnect>) => track(tlsConnect(...args))) as typeof tlsConnect,
      // ldapts speaks TLS from the start whenever it is given TLS options: only for ldaps://.
      ...(url.startsWith('ldaps:') ? { tlsOptions: this.options.tls } : {}),
    });
    this.sockets.set(client, sockets);
    return client;
  }

  /**
   * Closes a connection now, whatever it is doing (even still connecting, which ldapts' unbind
   * would leave open): its sockets are destroyed with an error, which fails what was pending on it.
   */
  private drop(client: Client): void {
    for (const socket of this.sockets.get(client) ?? []) socket.destroy(new Error('LDAP connection dropped'));
  }
}
