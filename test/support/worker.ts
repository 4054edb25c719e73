import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { resolveRunConfig, type RunFlags } from '../../src/config/run-config.js';
import { loadMappings } from '../../src/mapping/load.js';
import { composeWorker } from '../../src/runtime/compose.js';
import type { Worker } from '../../src/pipeline/worker.js';
import { Stats } from '../../src/telemetry/stats.js';
import { repoRoot } from './paths.js';

export const CUSTOMERS_MAPPING = `mappings:
  - name: customers
    table: inventory.customers
    keys:
      - "customer:{id}"
      - "customer:email:{email}"
`;

export async function mappingsDir(yaml = CUSTOMERS_MAPPING): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-mappings-'));
  await writeFile(join(dir, 'mappings.yaml'), yaml);
  return dir;
}

/** Tests let the worker create its dead-letter topic (the real broker has none; the mock creates topics on first use). */
export const DLQ_CREATE: RunFlags = { dlqCreatePartitions: '1', dlqCreateReplication: '1' };

/** Tests often start the worker before their topic exists: it is found within a second. */
export const TOPIC_REFRESH: RunFlags = { topicRefreshInterval: '1s' };

/** Group timeouts short enough for tests against the mock cluster. */
export const FAST_GROUP: RunFlags = { sessionTimeout: '6s', heartbeatInterval: '500ms', rebalanceTimeout: '6s', commitInterval: '50ms' };

export interface InProcessWorker {
  readonly worker: Worker;
  readonly stats: Stats;
}

/** The real worker (real Kafka source, Redis sink), in this process. */
export async function startWorker(flags: RunFlags, logLevel: 'silent' | 'debug' | 'info' = 'silent'): Promise<InProcessWorker> {
  const config = resolveRunConfig({ initialPosition: 'earliest', ...DLQ_CREATE, ...TOPIC_REFRESH, ...FAST_GROUP, ...flags }, {});
  const loaded = await loadMappings(config.mappingsDir);
  if (!loaded.set) throw new Error(`bad test mappings: ${JSON.stringify(loaded.problems)}`);
  const stats = new Stats();
  const worker = composeWorker(config, loaded.set, pino({ level: logLevel }), stats);
  await worker.start();
  return { worker, stats };
}

/** The CLI as a child process (for signals and SIGKILL). Output goes to `logFile`. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [join(repoRoot(), 'dist', 'src', 'cli', 'main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** `run` arguments for the CLI in tests: from the beginning, 1 s second delete, short group timeouts (FAST_GROUP). */
export function runArgs(o: { brokers: readonly string[]; redis: string; topic: string; group: string; mappings: string; logLevel?: string; extra?: readonly string[] }): string[] {
  return [
    'run', '--brokers', o.brokers.join(','), '--redis', o.redis, '--topics', o.topic, '--group', o.group, '--mappings', o.mappings,
    '--initial-position', 'earliest', '--second-delete-delay', '1s', '--session-timeout', FAST_GROUP.sessionTimeout!,
    '--heartbeat-interval', FAST_GROUP.heartbeatInterval!, '--rebalance-timeout', FAST_GROUP.rebalanceTimeout!,
    '--commit-interval', FAST_GROUP.commitInterval!, '--dlq-create-partitions', '1', '--dlq-create-replication', '1', '--topic-refresh-interval', '1s', '--log-level', o.logLevel ?? 'warn', ...(o.extra ?? []),
  ];
}
