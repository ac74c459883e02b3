/**
 * End to end, binding an email address: matrix-js-sdk 37.5 asks a real unisd listener for a
 * validation mail, the mail arrives at a real SMTP server, its link is opened with a plain GET
 * (as a browser does), the 3PID is bound the way Synapse binds it, and a lookup then finds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, fetch as undiciFetch } from 'undici';
import { createClient } from 'matrix-js-sdk';
import { testApp } from './helpers/app.js';
import { freePort } from './helpers/net.js';
import { quietLogger } from './helpers/sdk.js';
import { federationConfig, startFakeHomeserver } from './helpers/fake-homeserver.js';
import { TestSmtpServer } from './helpers/smtp.js';
import { validationLink } from './helpers/sessions.js';
import { verifyJsonSignature } from '../core/crypto/signing.js';

test('matrix-js-sdk: requestEmailToken, the mailed link, a bind with the session, then a lookup finds the address', async (t) => {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const port = await freePort();
  const idBaseUrl = `http://127.0.0.1:${port}`;
  const app = await testApp({ federation: federationConfig, email: { smtp: smtp.smtpConfig() }, server: { publicUrl: idBaseUrl } });
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port });

  const insecure = new Agent({ connect: { rejectUnauthorized: false } }); // the fake homeserver's self-signed certificate
  t.after(() => insecure.close());
  const userId = `@alice:${hs.serverName}`;
  let identityToken = '';
  const client = createClient({
    baseUrl: `https://${hs.serverName}`,
    idBaseUrl,
    userId,
    accessToken: hs.clientAccessToken,
    identityServer: { getAccessToken: async () => identityToken },
    logger: quietLogger,
    fetchFn: ((input: string, init?: object) => undiciFetch(input, { ...init, dispatcher: insecure })) as unknown as typeof fetch,
  });
  t.after(() => client.stopClient());
  identityToken = (await client.registerWithIdentityServer(await client.getOpenIdToken())).access_token;

  // The SDK calls the identity server directly (POST /v2/validate/email/requestToken, Bearer, send_attempt as a string).
  const clientSecret = 'e2eSecret_0123456789';
  const since = smtp.mails.length;
  const { sid } = await client.requestEmailToken('Alice.E2E@Example.org', clientSecret, 1, undefined, identityToken);
  assert.equal(typeof sid, 'string');

  const mail = await smtp.nextMail(since);
  assert.deepEqual(mail.to, ['alice.e2e@example.org']);
  const link = validationLink(mail.raw);
  assert.equal(link.origin, idBaseUrl, 'the link points at the public URL');
  const opened = await undiciFetch(link, { redirect: 'manual' });
  assert.equal(opened.status, 200);
  assert.match(opened.headers.get('content-type') ?? '', /text\/html/);
  await opened.text();

  // Synapse binds on the user's behalf with the user's identity token.
  const bound = await undiciFetch(`${idBaseUrl}/_matrix/identity/v2/3pid/bind`, {
    method: 'POST',
    headers: { authorization: `Bearer ${identityToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sid, client_secret: clientSecret, mxid: userId }),
  });
  assert.equal(bound.status, 200);
  const association = await bound.json() as Record<string, any>;
  assert.equal(association.medium, 'email');
  assert.equal(association.address, 'alice.e2e@example.org');
  assert.equal(association.mxid, userId);
  assert.ok(verifyJsonSignature(association, app.config.server.name, 'ed25519:0', app.signingKey.publicKey));

  const looked = await undiciFetch(`${idBaseUrl}/_matrix/identity/api/v1/lookup?medium=email&address=${encodeURIComponent('alice.e2e@example.org')}`);
  assert.equal(looked.status, 200);
  assert.deepEqual(await looked.json(), association);
});
