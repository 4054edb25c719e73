import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { stopProcess, waitFor } from './processes.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** A client for assertions (offline queue on, so it waits across restarts). */
  client(): Redis;
  stop(): Promise<void>;
  /** Starts again on the same port (after stop(): an outage). */
  restart(): Promise<void>;
  /** Stops and removes the data dir. */
  cleanup(): Promise<void>;
}

/** A real redis-server on 127.0.0.1, a random port and a temp dir; no persistence. */
export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const clients: Redis[] = [];

  const launch = async (): Promise<void> => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child = c;
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await waitFor(
        async () => {
          if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`);
          try {
            if (probe.status !== 'ready') await probe.connect();
            return (await probe.ping()) === 'PONG';
          } catch {
            probe.disconnect();
            return false;
          }
        },
        { timeoutMs: 10_000, message: `redis-server on port ${port}` },
      );
    } finally {
      probe.disconnect();
    }
  };
  await launch();

  const stop = async (): Promise<void> => {
    if (child) await stopProcess(child, 'SIGKILL');
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client() {
      const c = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    stop,
    restart: launch,
    async cleanup() {
      for (const c of clients) c.disconnect();
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
