import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testApp } from './helpers/app.js';
import { freePort } from './helpers/net.js';
import { TestSmtpServer, header, headersOf } from './helpers/smtp.js';
import { MatrixError } from '../core/errors.js';
import { loadTemplates, renderTemplate } from '../plugins/email/templates.js';
import { SmtpMailer } from '../plugins/email/service.js';
import { pino } from 'pino';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'unisd-email-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startSmtp(t: { after: (fn: () => Promise<void>) => void }, options?: ConstructorParameters<typeof TestSmtpServer>[0]) {
  const smtp = await new TestSmtpServer(options).start();
  t.after(() => smtp.stop());
  return smtp;
}

const INVITE_VARIABLES = {
  medium: 'email', address: 'alice@example.org', room_id: '!room:example.org', sender: '@bob:example.org',
  sender_display_name: 'Bob', room_name: 'Plans <script>alert(1)</script> & more', room_alias: '#plans:example.org',
  token: 'invite-token', ephemeral_private_key: 'private',
};

test('placeholders: %(name)s, the _forhtml and _forurl variants, %% and unknown names', () => {
  const template = 'Subject: %(name)s\n\nraw=%(name)s\nhtml=%(name_forhtml)s\nurl=%(name_forurl)s\n100%% sure, 5% off, missing=[%(nope)s]\n';
  assert.equal(renderTemplate(template, { name: 'a<b>&"c" d/e?' }),
    'Subject: a<b>&"c" d/e?\r\n\r\nraw=a<b>&"c" d/e?\r\nhtml=a&lt;b&gt;&amp;&quot;c&quot; d/e?\r\nurl=a%3Cb%3E%26%22c%22%20d%2Fe%3F\r\n100% sure, 5% off, missing=[]\r\n');
});

test('values cannot add headers or MIME parts: line breaks become spaces', () => {
  const rendered = renderTemplate('To: %(to)s\nSubject: Invitation to %(room_name)s\n\nRoom: %(room_name)s\n', {
    to: 'alice@example.org\r\nBcc: eve@example.org',
    room_name: 'x\n\n--boundary\nContent-Type: text/html\r\n\r\n<b>',
  });
  assert.deepEqual(headersOf(rendered).map(([name]) => name), ['to', 'subject']);
  assert.equal(header(rendered, 'to'), 'alice@example.org Bcc: eve@example.org');
  assert.equal(rendered.split('\r\n').filter((line) => line.startsWith('--boundary')).length, 0);
});

test('non-ASCII values in a Subject are MIME-encoded; address headers and the body are left as written', () => {
  const rendered = renderTemplate('From: Zoë <noreply@example.org>\nSubject: %(who)s invited you\n\nHello from %(who)s\n', { who: 'Zoë' });
  assert.match(header(rendered, 'subject')!, /^=\?UTF-8\?Q\?Zo=C3=AB/);
  assert.equal(header(rendered, 'from'), 'Zoë <noreply@example.org>');
  assert.ok(rendered.endsWith('\r\n\r\nHello from Zoë\r\n'));
});

test('long header values are folded, each line within RFC 5322 limits', () => {
  const long = renderTemplate('Subject: %(name)s\n\nbody\n', { name: 'word '.repeat(300) });
  const longAccented = renderTemplate('Subject: %(name)s\n\nbody\n', { name: 'mot accentué '.repeat(100) });
  for (const rendered of [long, longAccented]) {
    const head = rendered.split('\r\n\r\n')[0].split('\r\n');
    assert.ok(head.length > 1);
    assert.ok(head.every((line, i) => line.length <= 998 && (i === 0 || /^[ \t]/.test(line))), head.join('\n'));
  }
  assert.equal(header(long, 'subject'), 'word '.repeat(300).trim());
});

test('an operator template is sent verbatim as the raw message: nothing added, envelope from email.from', async (t) => {
  const smtp = await startSmtp(t);
  const dir = tempDir(t);
  const template = 'From: Operator <ops@example.net>\nTo: %(to)s\nSubject: Your code\nX-Operator: kept as written\n\nCode: %(token)s\nRoom: %(room_name)s\n';
  writeFileSync(join(dir, 'invite.eml'), template);
  const app = await testApp({ email: { from: 'Ops Bounce <bounce@example.net>', smtp: smtp.smtpConfig(), templates: { invite: join(dir, 'invite.eml') } } });
  t.after(() => app.close());

  await app.mailer.send('invite', 'alice@example.org', { token: 'T0KEN', room_name: 'Plans' });
  const [mail] = smtp.mails;
  assert.equal(mail.raw, 'From: Operator <ops@example.net>\r\nTo: alice@example.org\r\nSubject: Your code\r\nX-Operator: kept as written\r\n\r\nCode: T0KEN\r\nRoom: Plans\r\n');
  assert.equal(mail.from, 'bounce@example.net');
  assert.deepEqual(mail.to, ['alice@example.org']);
});

test('the built-in invite template: complete headers, plain text and HTML parts, HTML-escaped values', async (t) => {
  const smtp = await startSmtp(t);
  const app = await testApp({ email: { from: 'Example ID <id@example.org>', smtp: smtp.smtpConfig() } });
  t.after(() => app.close());

  await app.mailer.send('invite', 'alice@example.org', INVITE_VARIABLES);
  const { raw } = smtp.mails[0];
  assert.equal(header(raw, 'from'), 'Example ID <id@example.org>');
  assert.equal(header(raw, 'to'), 'alice@example.org');
  assert.match(header(raw, 'message-id')!, /^<[A-Za-z0-9_-]+@example\.org>$/);
  assert.ok(!Number.isNaN(Date.parse(header(raw, 'date')!)));
  assert.equal(header(raw, 'subject'), 'Bob invited you to a Matrix room');
  const boundary = /boundary="([^"]+)"/.exec(header(raw, 'content-type')!)![1];
  assert.equal(raw.split(`--${boundary}\r\n`).length, 3, 'two parts');
  assert.ok(raw.includes(`--${boundary}--`));
  assert.ok(raw.includes('"Plans <script>alert(1)</script> & more"'), 'plain text part: raw value');
  assert.ok(raw.includes('<strong>Plans &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</strong>'), 'HTML part: escaped value');
  assert.ok(!raw.includes('%('), 'every placeholder rendered');
});

test('the built-in unbind notice names the address and the account', async (t) => {
  const smtp = await startSmtp(t);
  const app = await testApp({ email: { smtp: smtp.smtpConfig() } });
  t.after(() => app.close());
  await app.mailer.send('unbind', 'alice@example.org', { medium: 'email', address: 'alice@example.org', mxid: '@alice:example.org' });
  assert.match(smtp.mails[0].raw, /alice@example\.org is no longer linked to the Matrix account @alice:example\.org/);
});

test('STARTTLS with login: the message goes over the upgraded, authenticated connection', async (t) => {
  const smtp = await startSmtp(t, { tls: 'starttls', auth: { user: 'unisd', password: 's3cret' } });
  const app = await testApp({ email: { smtp: smtp.smtpConfig() } });
  t.after(() => app.close());
  await app.mailer.send('unbind', 'alice@example.org', { address: 'alice@example.org', mxid: '@alice:example.org' });
  assert.equal(smtp.mails.length, 1);
  assert.equal(smtp.mails[0].secure, true);
  assert.equal(smtp.mails[0].user, 'unisd');
});

test('implicit TLS: the message goes over TLS from the first byte', async (t) => {
  const smtp = await startSmtp(t, { tls: 'tls' });
  const app = await testApp({ email: { smtp: smtp.smtpConfig() } });
  t.after(() => app.close());
  await app.mailer.send('unbind', 'alice@example.org', { address: 'alice@example.org', mxid: '@alice:example.org' });
  assert.equal(smtp.mails[0].secure, true);
});

async function assertSendError(promise: Promise<unknown>, because: string) {
  await assert.rejects(promise, (err: unknown) => err instanceof MatrixError && err.statusCode === 400 && err.errcode === 'M_EMAIL_SEND_ERROR', because);
}

test('send failures are M_EMAIL_SEND_ERROR: server down, untrusted certificate, STARTTLS unavailable, wrong password, refused recipient', async (t) => {
  const tlsServer = await startSmtp(t, { tls: 'tls' });
  const plainServer = await startSmtp(t);
  const authServer = await startSmtp(t, { auth: { user: 'unisd', password: 'right' } });
  const cases: Array<[string, Record<string, unknown>]> = [
    ['down', { host: '127.0.0.1', port: await freePort() }],
    ['self-signed certificate with verifyTls on', { ...tlsServer.smtpConfig(), verifyTls: true }],
    ['starttls required but not offered', { ...plainServer.smtpConfig(), tls: 'starttls' }],
    ['wrong password', { ...authServer.smtpConfig(), password: 'wrong' }],
  ];
  for (const [name, smtpConfig] of cases) {
    const app = await testApp({ email: { smtp: smtpConfig } });
    await assertSendError(app.mailer.send('unbind', 'alice@example.org', { address: 'alice@example.org', mxid: '@a:b' }), name);
    await app.close();
  }
  plainServer.refused.add('gone@example.org');
  const app = await testApp({ email: { smtp: plainServer.smtpConfig() } });
  t.after(() => app.close());
  await assertSendError(app.mailer.send('unbind', 'gone@example.org', { address: 'gone@example.org', mxid: '@a:b' }), 'refused recipient');
  assert.equal(tlsServer.mails.length + plainServer.mails.length + authServer.mails.length, 0);
});

test('a template that is not an RFC 822 message, or is missing, stops the start with the key named', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'body-only.eml'), 'Hello %(token)s, no headers here\n');
  await assert.rejects(testApp({ email: { templates: { validation: join(dir, 'body-only.eml') } } }), /email\.templates\.validation: .*body-only\.eml/);
  await assert.rejects(testApp({ email: { templates: { invite: join(dir, 'missing.eml') } } }), /email\.templates\.invite: .*missing\.eml/);
  await assert.rejects(testApp({ email: { from: 'no address here' } }), /email\.from/);
});

test('an SMTP failure is logged with the SMTP host and port; the client learns only M_EMAIL_SEND_ERROR', async () => {
  const port = await freePort(); // nothing listens there
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } });
  const smtp = { host: '127.0.0.1', port, tls: 'none', verifyTls: true, login: '', password: '' };
  const mailer = new SmtpMailer(smtp, loadTemplates({ validation: '', invite: '', unbind: '' }), 'unisd <noreply@example.org>', log);
  await assert.rejects(mailer.send('validation', 'alice@example.org', { token: 't', link: 'https://x' }), (err: MatrixError) => {
    assert.deepEqual(err.toJSON(), { errcode: 'M_EMAIL_SEND_ERROR', error: 'The email could not be sent' });
    return true;
  });
  mailer.close();
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]);
  assert.equal(entry.smtp, `127.0.0.1:${port}`);
  assert.match(entry.msg, new RegExp(`SMTP server 127\\.0\\.0\\.1:${port}$`));
  assert.ok(!lines[0].includes('alice'), 'not the recipient');
});
