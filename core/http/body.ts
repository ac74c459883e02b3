/**
 * Request bodies: the spec lets clients omit Content-Type, and logout arrives with no body at
 * all, so every body is read as JSON whatever its type (the deprecated form encoding excepted).
 * An empty body is `undefined`; routes that need an object say so in their schema. Keys that
 * could reach an object's prototype when merged (`__proto__`, `constructor.prototype`) are
 * refused with M_BAD_JSON saying so: the body is valid JSON, unisd just does not take it.
 */
import type { FastifyInstance } from 'fastify';
import { MatrixError } from '../errors.js';

export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const fields = Object.fromEntries(new URLSearchParams(body as string));
    done(Object.hasOwn(fields, '__proto__') ? refused('"__proto__"') : null, fields);
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(new MatrixError(400, 'M_NOT_JSON', 'The request body is not valid JSON'), undefined);
    }
    // Without one of these in the text no such key can be in the value (a key could be spelt with \u escapes).
    const forbidden = /__proto__|constructor|\\u/.test(text) ? forbiddenKey(value) : null;
    done(forbidden ? refused(forbidden) : null, value);
  });
}

const refused = (key: string) => new MatrixError(400, 'M_BAD_JSON', `The request body holds a ${key} key, which could alter JavaScript objects: it is refused`);

/** The first `__proto__` key, or `constructor` object holding a `prototype` key, at any depth (walked without recursion). */
function forbiddenKey(value: unknown): string | null {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== 'object') continue;
    if (!Array.isArray(node)) {
      if (Object.hasOwn(node, '__proto__')) return '"__proto__"';
      const constructor = Object.hasOwn(node, 'constructor') ? (node as { constructor: unknown }).constructor : null;
      if (constructor !== null && typeof constructor === 'object' && Object.hasOwn(constructor, 'prototype')) return '"constructor.prototype"';
    }
    for (const child of Object.values(node)) pending.push(child);
  }
  return null;
}
