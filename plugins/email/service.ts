/**
 * Sends rendered templates over SMTP with nodemailer. The message is passed as `raw`, so
 * nodemailer adds nothing to it; the envelope is email.from's address → the recipient.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../core/config/load.js';
import { ConfigError } from '../../core/config/load.js';
import { badRequest } from '../../core/errors.js';
import { randomToken } from '../../core/crypto/tokens.js';
import { renderTemplate, type Templates } from './templates.js';
import type { MailKind, Mailer } from './types.js';

/** A mail is sent while a client waits for its answer: fail in seconds, not nodemailer's minutes. */
const CONNECTION_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

export type EmailConfig = Config['email'];

function createTransport(smtp: EmailConfig['smtp']): Transporter {
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.tls === 'tls',
    requireTLS: smtp.tls === 'starttls',
    ignoreTLS: smtp.tls === 'none',
    tls: { rejectUnauthorized: smtp.verifyTls },
    auth: smtp.login ? { user: smtp.login, pass: smtp.password } : undefined,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: CONNECTION_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  });
}

/** RFC 5322 date-time, e.g. `Tue, 24 Nov 2026 13:23:37 +0000`. */
const rfc5322Date = (date: Date): string => date.toUTCString().replace(/GMT$/, '+0000');

export class SmtpMailer implements Mailer {
  private readonly senderAddress: string;
  private readonly transport: Transporter;
  /** host:port, for the operator reading a failure in the logs. */
  private readonly server: string;

  constructor(
    smtp: EmailConfig['smtp'],
    private readonly templates: Templates,
    private readonly from: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.transport = createTransport(smtp);
    this.server = `${smtp.host}:${smtp.port}`;
    const parsed = addressparser(from, { flatten: true })[0]?.address;
    if (!parsed || !parsed.includes('@')) throw new ConfigError(`email.from: "${from}" has no email address (expected e.g. "Example <noreply@example.org>")`);
    this.senderAddress = parsed;
  }

  /** Variables every template can use besides the caller's. */
  private standardVariables(to: string): Record<string, string> {
    const messageId = `<${randomToken(18)}@${this.senderAddress.split('@')[1]}>`;
    return {
      to,
      from: this.from,
      date: rfc5322Date(new Date()),
      message_id: messageId,
      messageid: messageId, // the name sydent-style templates use
      multipart_boundary: randomToken(24),
    };
  }

  /** The mailer's own variables win: a caller's value must not forge a header or break the MIME parts. */
  render(kind: MailKind, to: string, variables: Record<string, string>): string {
    return renderTemplate(this.templates[kind], { ...variables, ...this.standardVariables(to) });
  }

  async send(kind: MailKind, to: string, variables: Record<string, string>): Promise<void> {
    const raw = this.render(kind, to, variables);
    try {
      await this.transport.sendMail({ raw, envelope: { from: this.senderAddress, to } });
    } catch (err) {
      // SMTP replies often quote the recipient: log only what identifies the failure (the client learns none of it).
      const { code, responseCode, command } = err as { code?: string; responseCode?: number; command?: string };
      this.log.error({ kind, smtp: this.server, code, responseCode, command }, `the mail could not be sent through the SMTP server ${this.server}`);
      // 400, as the spec lists it for requestToken: a refused recipient is often the client's address.
      throw badRequest('M_EMAIL_SEND_ERROR', 'The email could not be sent');
    }
  }

  close(): void {
    this.transport.close();
  }
}
