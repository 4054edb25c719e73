import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';

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

/**
 * A TLS listener on 127.0.0.1 that requires a client certificate signed by the test CA and pipes the
 * decrypted bytes to a plaintext Kafka-protocol broker. Only connections to this port are encrypted:
 * brokers the cluster metadata names are reached directly, so only requests the client sends to its
 * seed broker (ApiVersions, Metadata, SASL handshake) travel through TLS.
 */
export interface TlsFront {
  readonly port: number;
  /** Subject CNs of the client certificates of the connections the server authorized. */
  readonly clients: readonly string[];
  /** TLS errors seen on the server side (a rejected client certificate, a client that hung up). */
  readonly errors: readonly string[];
  close(): Promise<void>;
}

export async function startTlsFront(certs: TestCerts, target: { host: string; port: number }): Promise<TlsFront> {
  const clients: string[] = [];
  const errors: string[] = [];
  const open = new Set<Socket>();
  const server = createServer(
    {
      cert: readFileSync(certs.serverCertFile),
      key: readFileSync(certs.serverKeyFile),
      ca: readFileSync(certs.caFile),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket: TLSSocket) => {
      const cn = socket.getPeerCertificate().subject?.CN;
      clients.push(typeof cn === 'string' ? cn : String(cn));
      const upstream = connect(target.port, target.host);
      open.add(socket).add(upstream);
      const end = (): void => {
        socket.destroy();
        upstream.destroy();
        open.delete(socket);
        open.delete(upstream);
      };
      socket.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      socket.pipe(upstream);
      upstream.pipe(socket);
    },
  );
  server.on('tlsClientError', (e) => errors.push(e.message));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    clients,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** host and port of the first `host:port` of a broker list. */
export function firstBroker(brokers: readonly string[]): { host: string; port: number } {
  const [host = '127.0.0.1', port = '0'] = (brokers[0] ?? '').split(':');
  return { host, port: Number(port) };
}
