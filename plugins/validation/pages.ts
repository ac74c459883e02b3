/**
 * The HTML pages a browser gets from GET submitToken (the link in the validation mail): the
 * operator's success page (validation.successTemplate) or a built-in one, and an error page.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../core/config/load.js';
import type { MatrixError } from '../../core/errors.js';
import { escapeHtml } from '../email/templates.js';

export interface Page {
  html: string;
  headers: Record<string, string>;
}

/** The page's URL carries the token: no Referer, no caching. */
const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};
/** Built-in pages run no script and load nothing (an operator's page may load its own styles). */
const BUILT_IN_HEADERS = { ...HEADERS, 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" };

const page = (title: string, body: string): string => `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em;line-height:1.5}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;

/** What a person should do about each error the link can meet. */
const ADVICE: Record<string, string> = {
  M_TOKEN_INCORRECT: 'This link is not the latest one sent for this address. Open the most recent message you received.',
  M_SESSION_EXPIRED: 'This link has expired. Ask your app to send a new one.',
  M_NO_VALID_SESSION: 'This link does not match any pending validation. It may have expired: ask your app to send a new one.',
  M_LIMIT_EXCEEDED: 'Too many attempts. Wait a while and try again.',
  M_MISSING_PARAMS: 'This link is incomplete. Copy the whole link from the message into your browser.',
  M_INVALID_PARAM: 'This link is damaged. Copy the whole link from the message into your browser.',
};

export class ValidationPages {
  readonly success: Page;

  /** `successTemplate`: path of the operator's HTML page; empty for the built-in one. */
  constructor(successTemplate: string) {
    this.success = successTemplate
      ? { html: readPage(successTemplate), headers: HEADERS }
      : { html: page('Address confirmed', '<p>Thank you: your address is confirmed. You can close this page and go back to your app.</p>'), headers: BUILT_IN_HEADERS };
  }

  /** `error` null: an unexpected failure (logged by the caller). */
  failure(error: MatrixError | null): Page {
    const advice = error ? ADVICE[error.errcode] ?? error.message : 'Something went wrong on our side. Try the link again later.';
    const code = error ? `<p><small>${escapeHtml(error.errcode)}</small></p>` : '';
    return { html: page('This link did not work', `<p>${escapeHtml(advice)}</p>\n${code}`), headers: BUILT_IN_HEADERS };
  }
}

function readPage(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`validation.successTemplate: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
