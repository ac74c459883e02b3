/**
 * Matrix errors: every error unisd answers is `{errcode, error}` (plus extra keys such as
 * `mxid` for M_THREEPID_IN_USE) with its HTTP status. Throw a MatrixError anywhere in a
 * handler or service; the error handler turns it into the response.
 */
export class MatrixError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errcode: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const badRequest = (errcode: string, message: string, extra?: Record<string, unknown>) => new MatrixError(400, errcode, message, extra);
export const unauthorized = (message = 'Unrecognised access token') => new MatrixError(401, 'M_UNAUTHORIZED', message);
export const forbidden = (errcode: string, message: string) => new MatrixError(403, errcode, message);
export const notFound = (errcode: string, message: string) => new MatrixError(404, errcode, message);
export const missingParams = (message: string) => badRequest('M_MISSING_PARAMS', message);
export const invalidParam = (message: string) => badRequest('M_INVALID_PARAM', message);
