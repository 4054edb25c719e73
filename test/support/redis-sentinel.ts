import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { stopProcess, waitFor } from './processes.js';

export interface SentinelSetup {
  readonly masterName: string;
  /** host:port list for --redis-sentinels. */
  readonly sentinels: string;
  readonly dataPorts: readonly number[];
  /** The port the sentinels name as master now. */
  masterPort(): Promise<number>;
  /** A client to one data node (offline queue on). */
  node(port: number): Redis;
  /** `SENTINEL FAILOVER` and wait until the sentinels name another master that accepts writes. */
  failover(): Promise<number>;
  cleanup(): Promise<void>;
}

async function pong(c: Redis): Promise<boolean> {
  try {
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * A master, one replica and `sentinelCount` sentinels (redis-server --sentinel, quorum 1), all on
 * 127.0.0.1 random ports in a temp dir, no persistence.
 */
export async function startSentinelSetup({ sentinelCount = 2, masterName = 'cache' } = {}): Promise<SentinelSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-sentinel-'));
  const children: ChildProcess[] = [];
  const clients: Redis[] = [];
  const byPort = new Map<number, Redis>();
  const client = (port: number): Redis => {
    const known = byPort.get(port);
    if (known) return known;
    const c = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 100 });
    c.on('error', () => undefined);
    clients.push(c);
    byPort.set(port, c);
    return c;
  };
  const cleanup = async (): Promise<void> => {
    for (const c of clients) c.disconnect();
    await Promise.all(children.map((c) => stopProcess(c, 'SIGKILL')));
    await rm(dir, { recursive: true, force: true });
  };
  const data = [await freePort(), await freePort()];
  const sentinelPorts: number[] = [];
  for (let i = 0; i < sentinelCount; i++) sentinelPorts.push(await freePort());
  try {
    const base = (port: number): string[] => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir, '--loglevel', 'warning', '--dbfilename', `dump-${port}.rdb`];
    children.push(spawn('redis-server', base(data[0]!), { stdio: ['ignore', 'ignore', 'inherit'] }));
    children.push(spawn('redis-server', [...base(data[1]!), '--replicaof', '127.0.0.1', String(data[0]!)], { stdio: ['ignore', 'ignore', 'inherit'] }));
    const replica = client(data[1]!);
    await waitFor(async () => (await pong(replica)) && /master_link_status:up/.test(await replica.info('replication')), { timeoutMs: 20_000, message: 'replica in sync' });
    for (const port of sentinelPorts) {
      const conf = join(dir, `sentinel-${port}.conf`);
      await writeFile(
        conf,
        [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'protected-mode no', 'loglevel warning',
          `sentinel monitor ${masterName} 127.0.0.1 ${data[0]} 1`,
          `sentinel down-after-milliseconds ${masterName} 2000`,
          `sentinel failover-timeout ${masterName} 10000`].join('\n') + '\n',
      );
      children.push(spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    for (const port of sentinelPorts) {
      const s = client(port);
      await waitFor(async () => (await pong(s)) && ((await s.call('SENTINEL', 'REPLICAS', masterName)) as unknown[]).length > 0, { timeoutMs: 30_000, message: `sentinel ${port} knows the replica` });
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  const sentinel = client(sentinelPorts[0]!);
  const masterPort = async (): Promise<number> => {
    const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
    return Number(port);
  };
  return {
    masterName,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    dataPorts: data,
    masterPort,
    node: client,
    async failover() {
      const old = await masterPort();
      await sentinel.call('SENTINEL', 'FAILOVER', masterName);
      let now = old;
      await waitFor(
        async () => {
          now = await masterPort();
          if (now === old) return false;
          return /role:master/.test(await client(now).info('replication'));
        },
        { timeoutMs: 30_000, intervalMs: 100, message: 'sentinels name the promoted replica' },
      );
      return now;
    },
    cleanup,
  };
}
