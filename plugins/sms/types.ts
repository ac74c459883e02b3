/** What an SMS connector offers the validation plugin: `app.sms` (null when sms.connector is none). */
export interface SmsSender {
  /**
   * Sends `text` to `msisdn` (E.164 digits without '+'). Throws a 400 MatrixError (the spec's status):
   * M_SEND_ERROR when the gateway fails, M_INVALID_ADDRESS or M_DESTINATION_REJECTED when it refuses the number.
   */
  send(msisdn: string, text: string): Promise<void>;
  /** Releases what the connector holds (connections), when unisd stops. */
  close?(): Promise<void> | void;
}
