import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files made by openssl for one test file: a CA, a server and a client certificate, and a stranger CA. */
export interface TestCerts {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  /** Encrypted with `clientKeyPassphrase` (PKCS#8, AES-256). */
  readonly clientKeyFile: string;
  readonly clientKeyPassphrase: string;
  /** A CA that signed nothing here: verifying the server against it must fail. */
  readonly otherCaFile: string;
  /** The client certificate's subject CN. */
  readonly clientName: string;
}

function openssl(cwd: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/** Generates P-256 certificates valid for a day; the server's names are localhost and 127.0.0.1. */
export function makeTestCerts(clientKeyPassphrase: string): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'cdci-kafka-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl(dir, ['req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=cdci-test-ca']);
  openssl(dir, ['req', '-x509', ...ec, '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '1', '-subj', '/CN=cdci-stranger-ca']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, ['req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'server.ext']);
  const clientName = 'cdc-invalidator-test-client';
  openssl(dir, ['req', ...ec, '-nodes', '-keyout', 'client-plain.key', '-out', 'client.csr', '-subj', `/CN=${clientName}`]);
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '1']);
  openssl(dir, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'client-plain.key', '-out', 'client.key', '-passout', `pass:${clientKeyPassphrase}`]);
  if (!readFileSync(join(dir, 'client.key'), 'utf8').includes('ENCRYPTED PRIVATE KEY')) throw new Error('openssl did not encrypt the client key');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    clientKeyPassphrase,
    otherCaFile: join(dir, 'other-ca.pem'),
    clientName,
  };
}
