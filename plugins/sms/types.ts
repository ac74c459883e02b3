/** What an SMS connector offers the validation plugin: `app.sms` (null when sms.connector is none). */
export interface SmsSender {
  /**
   * Sends `text` to `msisdn` (E.164 digits without '+'). Throws a MatrixError: 500 M_SEND_ERROR
   * when the gateway fails, or a 400 when it refuses the number.
   */
  send(msisdn: string, text: string): Promise<void>;
}
