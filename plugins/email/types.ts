/**
 * What the email plugin offers other plugins: `app.mailer`. Templates are complete RFC 822
 * messages; the rendered text is sent verbatim as the raw message.
 */
export type MailKind = 'validation' | 'invite' | 'unbind';

export interface Mailer {
  /**
   * Renders the operator's (or built-in) template of `kind` with `variables` and sends it to
   * `to`. Throws a 400 M_EMAIL_SEND_ERROR MatrixError (the spec's status) when the SMTP server refuses it.
   */
  send(kind: MailKind, to: string, variables: Record<string, string>): Promise<void>;
}
