// Throwaway certificates for the TLS tests, made with openssl (installed by setup-test-env.sh):
// a self-signed server certificate, or a small PKI (a CA signing a server and a client
// certificate, plus a client certificate from a second CA the server does not trust).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER_NAMES = 'subjectAltName=IP:127.0.0.1,DNS:localhost';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A key pair on disk, with the PEM contents read back. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

function read(certFile: string, keyFile: string): CertFiles {
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

/** A self-signed certificate for 127.0.0.1 / localhost (it is its own CA). */
export function selfSignedCert(dir: string, name = 'cert'): CertFiles {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', SERVER_NAMES, '-keyout', keyFile, '-out', certFile]);
  return read(certFile, keyFile);
}

function makeCa(dir: string, name: string): CertFiles {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', keyFile, '-out', certFile,
  ]);
  return read(certFile, keyFile);
}

function issue(dir: string, ca: CertFiles, name: string, extensions: string): CertFiles {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${extensions}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', certFile]);
  return read(certFile, keyFile);
}

export interface TestPki {
  dir: string;
  ca: CertFiles;
  /** For 127.0.0.1 / localhost, signed by `ca`. */
  server: CertFiles;
  /** CN=sonde-client, signed by `ca`. */
  client: CertFiles;
  /** CN=stranger, signed by a CA the server does not trust. */
  strangerClient: CertFiles;
  dispose(): void;
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-pki-'));
  const ca = makeCa(dir, 'sonde-test-ca');
  const otherCa = makeCa(dir, 'other-ca');
  return {
    dir,
    ca,
    server: issue(dir, ca, 'localhost', `${SERVER_NAMES}\nextendedKeyUsage=serverAuth`),
    client: issue(dir, ca, 'sonde-client', 'extendedKeyUsage=clientAuth'),
    strangerClient: issue(dir, otherCa, 'stranger', 'extendedKeyUsage=clientAuth'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
