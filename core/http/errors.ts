/**
 * The error envelope: whatever goes wrong, the client gets `{errcode, error}` as JSON with a
 * fitting status. Unexpected errors are logged and answered 500 M_UNKNOWN without details.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { MatrixError } from '../errors.js';

function fromValidation(err: FastifyError): MatrixError {
  const first = err.validation?.[0];
  const where = err.validationContext ?? 'body';
  if (first?.keyword === 'required') {
    const missing = (first.params as { missingProperty?: string }).missingProperty;
    return new MatrixError(400, 'M_MISSING_PARAMS', `Missing ${where} parameter: ${missing}`);
  }
  if (first && first.instancePath === '' && first.keyword === 'type' && where === 'body') {
    return new MatrixError(400, 'M_BAD_JSON', 'The request body must be a JSON object');
  }
  const field = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : where;
  return new MatrixError(400, 'M_INVALID_PARAM', `Invalid ${where} parameter ${field}: ${first?.message ?? 'not valid'}`);
}

export function toMatrixError(err: FastifyError): MatrixError | null {
  if (err instanceof MatrixError) return err;
  if (err.validation) return fromValidation(err);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MatrixError(413, 'M_TOO_LARGE', 'The request body is too large');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_BAD_URL':
      return new MatrixError(400, 'M_UNRECOGNIZED', 'Malformed request');
    default:
      break;
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new MatrixError(err.statusCode, 'M_UNKNOWN', err.message);
  }
  return null;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const matrix = toMatrixError(err);
    if (matrix) {
      if (matrix.statusCode >= 500) request.log.error({ err }, 'request failed');
      return reply.code(matrix.statusCode).type('application/json').send(matrix.toJSON());
    }
    request.log.error({ err }, 'unexpected error');
    return reply.code(500).type('application/json').send({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
  });
}
