import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort } from './ports.js';
import { stopProcess, waitFor } from './processes.js';

const run = promisify(execFile);

export interface ClusterNodeInfo {
  readonly id: string;
  readonly port: number;
  readonly master: boolean;
  /** A replica's master (its node id). */
  readonly replicaOf?: string;
  /** Slots served (masters), as [from, to] ranges. */
  readonly ranges: readonly (readonly [number, number])[];
}

export interface RedisCluster {
  readonly ports: readonly number[];
  /** Seed URLs for --redis with --redis-cluster. */
  readonly seeds: string;
  /** A Cluster client for assertions (offline queue on). */
  client(): Cluster;
  /** A plain client to one node. */
  node(port: number): Redis;
  nodes(): Promise<ClusterNodeInfo[]>;
  /** Moves `slots` slots (with their keys) from one master to another with `redis-cli --cluster reshard`. */
  reshard(fromPort: number, toPort: number, slots: number): Promise<void>;
  cleanup(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * A Redis Cluster of `masters` redis-server processes (plus `replicasPerMaster` replicas each) on
 * 127.0.0.1, random ports, a temp dir, no persistence; created with `redis-cli --cluster create`.
 */
export async function startRedisCluster({ masters = 3, replicasPerMaster = 0 } = {}): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-cluster-'));
  const count = masters * (1 + replicasPerMaster);
  // Each node also listens on a cluster bus port, by default port + 10 000: out of range for a port
  // above 55 535 (a fifth of Linux's ephemeral range), and never checked for being free. Give every
  // node a free bus port of its own (--cluster-port).
  const distinct: number[] = [];
  for (let attempt = 0; distinct.length < count * 2 && attempt < count * 40; attempt++) {
    const p = await freePort();
    if (!distinct.includes(p)) distinct.push(p);
  }
  if (distinct.length < count * 2) throw new Error(`could not find ${count * 2} free ports for the cluster`);
  const ports = distinct.slice(0, count);
  const busPorts = distinct.slice(count);
  const children: ChildProcess[] = [];
  const clients: (Redis | Cluster)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of clients) c.disconnect();
    await Promise.all(children.map((c) => stopProcess(c, 'SIGKILL')));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, port] of ports.entries()) {
      const args = ['--port', String(port), '--cluster-port', String(busPorts[i]), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', '2000', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'];
      children.push(spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    for (const port of ports) await waitFor(() => ping(port), { timeoutMs: 10_000, message: `cluster node on port ${port}` });
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { timeout: 60_000 });
    for (const port of ports) {
      const c = new Redis({ port, host: '127.0.0.1' });
      c.on('error', () => undefined);
      clients.push(c);
      await waitFor(async () => /cluster_state:ok/.test(await c.cluster('INFO')), { timeoutMs: 30_000, message: `cluster_state ok on ${port}` });
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  const any = clients[0] as Redis;
  if (replicasPerMaster > 0) {
    // Right after the create, nodes still list the replicas as masters until gossip catches up.
    await waitFor(
      async () => {
        const text = (await any.cluster('NODES')) as string;
        const lines = text.trim().split('\n');
        return lines.filter((l) => / slave /.test(l) || /,slave /.test(l)).length === masters * replicasPerMaster;
      },
      { timeoutMs: 30_000, message: 'every replica known as a replica' },
    ).catch(async (e: unknown) => {
      await cleanup();
      throw e;
    });
  }
  const handle: RedisCluster = {
    ports,
    seeds: ports.slice(0, 2).map((p) => `redis://127.0.0.1:${p}`).join(','),
    client() {
      const c = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), { clusterRetryStrategy: () => 100, scaleReads: 'master' });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    node(port) {
      const c = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 100 });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async nodes() {
      const text = (await any.cluster('NODES')) as string;
      return text
        .trim()
        .split('\n')
        .map((line) => {
          const f = line.split(' ');
          const port = Number(/:(\d+)@/.exec(f[1]!)![1]);
          const ranges = f
            .slice(8)
            .filter((s) => /^\d+(-\d+)?$/.test(s))
            .map((s) => {
              const [a, b] = s.split('-').map(Number);
              return [a!, b ?? a!] as const;
            });
          const master = f[2]!.includes('master');
          return { id: f[0]!, port, master, ranges, ...(master || f[3] === '-' ? {} : { replicaOf: f[3]! }) };
        });
    },
    async reshard(fromPort, toPort, slots) {
      const all = await handle.nodes();
      const from = all.find((n) => n.port === fromPort)!;
      const to = all.find((n) => n.port === toPort)!;
      await run(
        'redis-cli',
        ['--cluster', 'reshard', `127.0.0.1:${fromPort}`, '--cluster-from', from.id, '--cluster-to', to.id, '--cluster-slots', String(slots), '--cluster-yes', '--cluster-pipeline', '20'],
        { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      );
    },
    cleanup,
  };
  return handle;
}
