/**
 * What the validation plugin offers other plugins (binds, unbinds): `app.validation`.
 */
import type { ValidationSession } from '../../core/store/port.js';

export interface Validation {
  /**
   * The session for (sid, clientSecret) if it is validated and still within its window.
   * Throws 404 M_NO_VALID_SESSION (unknown sid or wrong secret), 400 M_SESSION_NOT_VALIDATED,
   * 400 M_SESSION_EXPIRED.
   */
  requireValidatedSession(sid: string, clientSecret: string): Promise<ValidationSession>;
}
