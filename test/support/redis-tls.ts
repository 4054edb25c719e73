import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { stopProcess, waitFor } from './processes.js';

const run = promisify(execFile);

/** Paths of PEM files made by makeCertificates. */
export interface Certificates {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export async function makeCertificates(): Promise<Certificates> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-tls-'));
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=cdci test CA']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=cdci ${who}`]);
    await openssl(dir, ['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '2', '-extfile', `${who}.ext`]);
  }
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

export interface TlsRedis {
  readonly port: number;
  readonly url: string;
  readonly certs: Certificates;
  /** A client as the `admin` user (all permissions) over TLS with the client certificate. */
  admin(): Redis;
  cleanup(): Promise<void>;
}

export const ADMIN_PASSWORD = 'admin-pw-for-tests';

/**
 * A redis-server with TLS only (no plaintext port), client certificates required, the default user
 * off, an `admin` user for the test's assertions and the given ACL `user …` lines.
 */
export async function startTlsRedis(certs: Certificates, users: readonly string[]): Promise<TlsRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-redis-tls-'));
  const port = await freePort();
  const conf = [
    'port 0',
    `tls-port ${port}`,
    'bind 127.0.0.1',
    `tls-cert-file ${certs.serverCert}`,
    `tls-key-file ${certs.serverKey}`,
    `tls-ca-cert-file ${certs.ca}`,
    'tls-auth-clients yes',
    'save ""',
    'appendonly no',
    `dir ${dir}`,
    'loglevel warning',
    'user default off',
    `user admin on >${ADMIN_PASSWORD} ~* &* +@all`,
    ...users,
  ].join('\n');
  await writeFile(join(dir, 'redis.conf'), `${conf}\n`);
  const child: ChildProcess = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [ca, cert, key] = await Promise.all([readFile(certs.ca), readFile(certs.clientCert), readFile(certs.clientKey)]);
  const clients: Redis[] = [];
  const admin = (): Redis => {
    const c = new Redis({ host: '127.0.0.1', port, username: 'admin', password: ADMIN_PASSWORD, tls: { ca, cert, key }, retryStrategy: () => 100 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const probe = admin();
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server (TLS) exited with ${child.exitCode}`);
        try {
          return (await probe.ping()) === 'PONG';
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, message: `TLS redis-server on port ${port}` },
    );
  } catch (e) {
    await stopProcess(child, 'SIGKILL');
    throw e;
  }
  return {
    port,
    url: `rediss://127.0.0.1:${port}`,
    certs,
    admin,
    async cleanup() {
      for (const c of clients) c.disconnect();
      await stopProcess(child, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
