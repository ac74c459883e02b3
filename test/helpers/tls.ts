/** One self-signed certificate for localhost / 127.0.0.1, shared by the test servers (made once: RSA keygen is slow). */
import selfsigned from 'selfsigned';

let certificate: { key: string; cert: string } | undefined;

export function selfSignedCertificate(): { key: string; cert: string } {
  if (!certificate) {
    const pems = selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048, days: 2, algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    certificate = { key: pems.private, cert: pems.cert };
  }
  return certificate;
}
