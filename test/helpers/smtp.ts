/**
 * A real SMTP server on loopback (smtp-server) that keeps every message it receives, raw.
 * Modes: plain, STARTTLS (required before MAIL) and implicit TLS, with a self-signed
 * certificate; optional AUTH PLAIN/LOGIN; can refuse recipients to test failures.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { selfSignedCertificate } from './tls.js';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The DATA exactly as received (CRLF line endings, dot-unstuffed). */
  raw: string;
  /** Whether the session was encrypted when the message was sent. */
  secure: boolean;
  user: string | undefined;
}

export interface TestSmtpOptions {
  tls?: 'none' | 'starttls' | 'tls';
  /** Required credentials; without, no AUTH is offered. */
  auth?: { user: string; password: string };
}

export class TestSmtpServer {
  readonly mails: ReceivedMail[] = [];
  /** Recipients answered 550 at RCPT TO. */
  readonly refused = new Set<string>();
  /** Connection errors (a client refusing the certificate, a dropped socket): kept, not thrown. */
  readonly errors: Error[] = [];
  private waiters: Array<(mail: ReceivedMail) => void> = [];
  private server!: SMTPServer;
  port = 0;

  constructor(private readonly options: TestSmtpOptions = {}) {}

  async start(): Promise<this> {
    const tls = this.options.tls ?? 'none';
    const auth = this.options.auth;
    const disabledCommands = [...(tls === 'none' ? ['STARTTLS'] : []), ...(auth ? [] : ['AUTH'])];
    this.server = new SMTPServer({
      secure: tls === 'tls',
      ...(tls === 'none' ? {} : selfSignedCertificate()),
      disabledCommands,
      allowInsecureAuth: tls === 'none',
      authOptional: !auth,
      logger: false,
      disableReverseLookup: true, // tests do not depend on the machine's DNS
      onAuth: (credentials, _session, callback) => {
        if (auth && credentials.username === auth.user && credentials.password === auth.password) return callback(null, { user: auth.user });
        return callback(new Error('Invalid username or password'));
      },
      onMailFrom: (_address, session, callback) => {
        if (tls === 'starttls' && !session.secure) return callback(Object.assign(new Error('Must issue STARTTLS first'), { responseCode: 530 }));
        return callback();
      },
      onRcptTo: (address, _session, callback) => {
        if (this.refused.has(address.address)) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
        return callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const envelope = session.envelope;
          const mail: ReceivedMail = {
            from: envelope.mailFrom ? envelope.mailFrom.address : '',
            to: envelope.rcptTo.map((rcpt) => rcpt.address),
            raw: Buffer.concat(chunks).toString('utf8'),
            secure: session.secure,
            user: session.user as string | undefined,
          };
          this.mails.push(mail);
          this.waiters.splice(0).forEach((resolve) => resolve(mail));
          callback();
        });
      },
    });
    this.server.on('error', (err) => this.errors.push(err));
    this.server.listen(0, '127.0.0.1');
    await once(this.server.server, 'listening');
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  /** The next message received (or the last one, if it arrived since `since` messages). */
  nextMail(since = this.mails.length): Promise<ReceivedMail> {
    if (this.mails.length > since) return Promise.resolve(this.mails[since]);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The `email.smtp` config that reaches this server. */
  smtpConfig(): Record<string, unknown> {
    return {
      host: '127.0.0.1',
      port: this.port,
      tls: this.options.tls ?? 'none',
      verifyTls: false,
      ...(this.options.auth ? { login: this.options.auth.user, password: this.options.auth.password } : {}),
    };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Headers of a raw message, unfolded, names lower-cased, in order. */
export function headersOf(raw: string): Array<[string, string]> {
  const head = raw.split('\r\n\r\n')[0];
  return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n').map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
  });
}

export const header = (raw: string, name: string): string | undefined => headersOf(raw).find(([key]) => key === name.toLowerCase())?.[1];
