/** matrix-js-sdk helpers for the end-to-end tests. */
import type { createClient } from 'matrix-js-sdk';

type SdkLogger = NonNullable<Parameters<typeof createClient>[0]['logger']>;

/** Keeps the SDK's request traces out of the test output; warnings and errors still show. */
export const quietLogger: SdkLogger = {
  trace() {}, debug() {}, info() {},
  warn: (...msg) => console.warn(...msg),
  error: (...msg) => console.error(...msg),
  getChild: () => quietLogger,
};
