/**
 * A throwaway OpenLDAP server (Debian's slapd) for the LDAP tests: a temporary directory with a
 * slapd.conf (mdb backend, core/cosine/inetorgperson/nis schemas and the fixtures' AD schema),
 * LDIF loaded offline with slapadd (fast, even for 100k entries), then slapd on free loopback
 * ports (ldap:// with STARTTLS, and ldaps://) using the shared self-signed certificate. Ready
 * once slapd has printed "slapd starting" and then a bind succeeds (it starts listening just
 * after printing it, so the bind is retried while the connection is refused).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort } from './net.js';
import { selfSignedCertificate } from './tls.js';

const run = promisify(execFile);

export const FIXTURES = resolve(import.meta.dirname, '../fixtures/ldap');
export const SUFFIX = 'dc=example,dc=org';
export const SERVICE_DN = `cn=unisd,ou=services,${SUFFIX}`;
export const SERVICE_PASSWORD = 'unisd-secret';

export interface Slapd {
  /** ldap:// (plain, STARTTLS offered). */
  url: string;
  /** ldaps://. */
  ldapsUrl: string;
  /** PEM file of the certificate slapd serves (self-signed: it is its own CA). */
  caFile: string;
  stop(): Promise<void>;
}

const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'].map((name) => `/etc/ldap/schema/${name}.schema`);

function slapdConf(dir: string): string {
  return `${[...SCHEMAS, join(FIXTURES, 'ad.schema')].map((file) => `include ${file}`).join('\n')}
pidfile ${join(dir, 'slapd.pid')}
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile ${join(dir, 'cert.pem')}
TLSCertificateKeyFile ${join(dir, 'key.pem')}

database mdb
suffix "${SUFFIX}"
rootdn "cn=admin,${SUFFIX}"
rootpw admin-secret
directory ${join(dir, 'db')}
maxsize 1073741824
index objectClass,uid,mail,telephoneNumber,mobile eq
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="${SERVICE_DN}" read by * none
limits dn.exact="${SERVICE_DN}" size.prtotal=unlimited
`;
}

/** Starts slapd with the fixture directory plus `extraLdif` files (slapadd, before start). */
export async function startSlapd(extraLdif: string[] = []): Promise<Slapd> {
  const dir = await mkdtemp(join(tmpdir(), 'unisd-slapd-'));
  let child: ChildProcess | undefined;
  try {
    await mkdir(join(dir, 'db'));
    const { key, cert } = selfSignedCertificate();
    await writeFile(join(dir, 'key.pem'), key, { mode: 0o600 });
    await writeFile(join(dir, 'cert.pem'), cert);
    const conf = join(dir, 'slapd.conf');
    await writeFile(conf, slapdConf(dir));
    for (const ldif of [join(FIXTURES, 'directory.ldif'), ...extraLdif]) await run('slapadd', ['-q', '-f', conf, '-l', ldif]);

    const [port, ldapsPort] = [await freePort(), await freePort()];
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
    // -d keeps slapd in the foreground; level 32768 ("none") prints only what is always printed.
    const slapd = spawn('slapd', ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '32768'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = slapd;
    await new Promise<void>((ready, fail) => {
      let output = '';
      slapd.stderr!.setEncoding('utf8');
      slapd.stderr!.on('data', (text: string) => {
        output += text;
        if (output.includes('slapd starting')) ready();
      });
      slapd.once('exit', (code) => fail(new Error(`slapd exited (${code}) before starting: ${output.trim().split('\n').slice(-3).join(' | ')}`)));
      slapd.once('error', fail);
    });
    await untilBindWorks(url, slapd);

    return {
      url, ldapsUrl, caFile: join(dir, 'cert.pem'),
      async stop() {
        if (slapd.exitCode === null && slapd.signalCode === null) {
          const exited = once(slapd, 'exit');
          slapd.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function untilBindWorks(url: string, slapd: ChildProcess): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const probe = new Client({ url, connectTimeout: 1000 });
    try {
      await probe.bind(SERVICE_DN, SERVICE_PASSWORD);
      await probe.unbind();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || attempt === 100 || slapd.exitCode !== null) throw err;
      await delay(20);
    }
  }
}

/** An LDIF file of `count` people under ou=bulk (uid user<i>, mail user<i>@bulk.example.org), written as a stream. */
export async function writeBulkLdif(path: string, count: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) {
    const entry = `dn: uid=user${i},ou=bulk,${SUFFIX}\nobjectClass: inetOrgPerson\nuid: user${i}\ncn: User ${i}\nsn: ${i}\nmail: user${i}@bulk.example.org\n\n`;
    if (!out.write(entry)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
