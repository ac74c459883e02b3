/**
 * End to end with the client library behind Element (matrix-js-sdk 37.5): a real unisd listener,
 * the fake homeserver issuing the OpenID token and answering userinfo over HTTPS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, fetch as undiciFetch } from 'undici';
import { createClient, SERVICE_TYPES, type MatrixError } from 'matrix-js-sdk';
import { testApp } from './helpers/app.js';
import { quietLogger } from './helpers/sdk.js';
import { federationConfig, startFakeHomeserver } from './helpers/fake-homeserver.js';

const PRIVACY_URL = 'https://id.example.test/privacy-1.0-en.html';

test('matrix-js-sdk registers with unisd, is asked for terms, agrees, and then gets its account', async (t) => {
  const hs = await startFakeHomeserver();
  t.after(() => hs.close());
  const app = await testApp({
    federation: federationConfig,
    policy: { policies: { privacy: { version: '1.0', terms: { en: { name: 'Privacy Policy', url: PRIVACY_URL } }, regexp: ['/_matrix/identity/v2/account'] } } },
  });
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const idBaseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  // The fake homeserver's certificate is self-signed: the client trusts it for this test only.
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  t.after(() => insecure.close());
  const userId = `@alice:${hs.serverName}`;
  const client = createClient({
    baseUrl: `https://${hs.serverName}`,
    idBaseUrl,
    userId,
    accessToken: hs.clientAccessToken,
    logger: quietLogger,
    fetchFn: ((input: string, init?: object) => undiciFetch(input, { ...init, dispatcher: insecure })) as unknown as typeof fetch,
  });

  const openIdToken = await client.getOpenIdToken();
  assert.equal(openIdToken.matrix_server_name, hs.serverName);
  const registered = await client.registerWithIdentityServer(openIdToken);
  assert.equal(typeof registered.access_token, 'string');
  assert.equal(registered.token, registered.access_token);
  const identityToken = registered.access_token;

  // What makes Element show the terms prompt: 403 M_TERMS_NOT_SIGNED on /account.
  await assert.rejects(client.getIdentityAccount(identityToken), (err: MatrixError) => {
    assert.equal(err.httpStatus, 403);
    assert.equal(err.errcode, 'M_TERMS_NOT_SIGNED');
    return true;
  });

  const terms = await client.getTerms(SERVICE_TYPES.IS, idBaseUrl);
  assert.deepEqual(terms.policies, { privacy: { version: '1.0', en: { name: 'Privacy Policy', url: PRIVACY_URL } } });
  assert.deepEqual(await client.agreeToTerms(SERVICE_TYPES.IS, idBaseUrl, identityToken, [PRIVACY_URL]), {});

  assert.deepEqual(await client.getIdentityAccount(identityToken), { user_id: userId });
  client.stopClient();
});

test('matrix-js-sdk identityHashedLookup finds a bound 3PID and a provider\'s 3PID (sha256 over a real listener)', async (t) => {
  const { TestSmtpServer } = await import('./helpers/smtp.js');
  const { validatedEmailSession } = await import('./helpers/sessions.js');
  const smtp = await new TestSmtpServer().start();
  t.after(() => smtp.stop());
  const app = await testApp({
    email: { smtp: smtp.smtpConfig() },
    matrix: { domain: 'example.org' },
    memory: {
      enabled: true, hashEnabled: true,
      identities: [
        { username: 'bob', threepids: [{ medium: 'email', address: 'bob@example.org' }, { medium: 'msisdn', address: '447700900001' }] },
        { username: 'strauss', threepids: [{ medium: 'email', address: 'Strasse@example.org' }] },
      ],
    },
  });
  t.after(() => app.close());
  const alice = '@alice:example.org';
  const aliceToken = await app.accounts.issue(alice);
  const session = await validatedEmailSession(app, smtp, 'alice@example.org', aliceToken);
  const bound = await app.inject({ method: 'POST', url: '/_matrix/identity/v2/3pid/bind', headers: { authorization: `Bearer ${aliceToken}` }, payload: { sid: session.sid, client_secret: session.clientSecret, mxid: alice } });
  assert.equal(bound.statusCode, 200, bound.body);
  await app.listen({ host: '127.0.0.1', port: 0 });

  const client = createClient({
    baseUrl: 'https://hs.example.test',
    idBaseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    logger: quietLogger,
  });
  const identityToken = await app.accounts.issue('@asker:example.org');
  // What Element does with an address book: the addresses as the user typed them.
  // js-sdk hashes the lower case of what was typed (`straße@…`); the address is stored case-folded (`strasse@…`).
  const found = await client.identityHashedLookup([['Alice@Example.org', 'email'], ['bob@example.org', 'email'], ['447700900001', 'msisdn'], ['Straße@example.org', 'email'], ['nobody@example.org', 'email']], identityToken);
  assert.deepEqual(found.sort((a, b) => a.address.localeCompare(b.address)), [
    { address: '447700900001', mxid: '@bob:example.org' },
    { address: 'Alice@Example.org', mxid: alice },
    { address: 'bob@example.org', mxid: '@bob:example.org' },
    { address: 'Straße@example.org', mxid: '@strauss:example.org' },
  ]);
  assert.deepEqual(await client.lookupThreePid('email', 'bob@example.org', identityToken), { address: 'bob@example.org', medium: 'email', mxid: '@bob:example.org' });
  client.stopClient();
});
