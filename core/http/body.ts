/**
 * Request bodies: the spec lets clients omit Content-Type, and logout arrives with no body at
 * all, so every body is read as JSON whatever its type (the deprecated form encoding excepted).
 * An empty body is `undefined`; routes that need an object say so in their schema.
 */
import type { FastifyInstance } from 'fastify';
import { MatrixError } from '../errors.js';

export function installBodyParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    parseJson(request, body as string, (err, value) => {
      if (err) return done(new MatrixError(400, 'M_NOT_JSON', 'The request body is not valid JSON'), undefined);
      done(null, value);
    });
  });
}
