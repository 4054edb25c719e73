import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../ports.js';
import { repoRoot } from '../paths.js';
import { GuardedProcess } from './guarded-process.js';
import { classpath, jarFolder, javaBin, jvmOptions, log4jProperties } from './jars.js';

const run = promisify(execFile);

export interface ConnectOptions {
  /** Kafka bootstrap servers (PLAINTEXT). */
  readonly brokers: readonly string[];
  /** Replication factor of Connect's internal topics (the cluster's size). */
  readonly replicationFactor?: number;
  readonly heapMb?: number;
  readonly startTimeoutMs?: number;
}

export interface ConnectorStatus {
  readonly connector: { readonly state: string; readonly trace?: string };
  readonly tasks: readonly { readonly id: number; readonly state: string; readonly trace?: string }[];
}

export interface ConnectWorker {
  /** The REST API: http://127.0.0.1:<port>. */
  readonly url: string;
  /** The distributed worker's group id (it shows up in ListGroups; tests filter it out). */
  readonly groupId: string;
  readonly running: boolean;
  /**
   * Registers (or updates) a connector with the project's debezium/register.sh: `config` is the
   * project's connector JSON (debezium/<file>) with `overrides` merged in. Resolves once the
   * connector and its tasks are RUNNING.
   */
  register(name: string, file: string, overrides: Readonly<Record<string, string>>): Promise<void>;
  status(name: string): Promise<ConnectorStatus | undefined>;
  /** DELETE /connectors/<name>. */
  remove(name: string): Promise<void>;
  /** SIGKILL: the worker dies without committing its source offsets' last flush. */
  kill(): Promise<void>;
  /** Starts it again (same group, same internal topics: the connector resumes from its stored offsets). */
  start(): Promise<void>;
  stop(): Promise<void>;
  logTail(lines?: number): string;
}

async function rest(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/**
 * A Kafka Connect worker in distributed mode (its config, offsets and status in Kafka topics, so a
 * restarted worker resumes where the connector left off), with the Debezium Postgres connector on
 * its plugin path. Ready when GET /connector-plugins lists the PostgresConnector.
 */
export async function startConnect(opts: ConnectOptions): Promise<ConnectWorker> {
  const dir = await mkdtemp(join(tmpdir(), 'cdci-connect-'));
  const id = randomBytes(3).toString('hex');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const plugins = join(dir, 'plugins');
  await mkdir(plugins);
  await symlink(jarFolder('debezium-postgres'), join(plugins, 'debezium-connector-postgres'));
  const rf = String(opts.replicationFactor ?? 1);
  const groupId = `connect-${id}`;
  const props: Record<string, string> = {
    'bootstrap.servers': opts.brokers.join(','),
    'group.id': groupId,
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'config.storage.topic': `${groupId}-configs`,
    'offset.storage.topic': `${groupId}-offsets`,
    'status.storage.topic': `${groupId}-status`,
    'config.storage.replication.factor': rf,
    'offset.storage.replication.factor': rf,
    'status.storage.replication.factor': rf,
    'offset.storage.partitions': '1',
    'status.storage.partitions': '1',
    'offset.flush.interval.ms': '1000',
    // The default (5 min) delays a restarted worker's tasks.
    'scheduled.rebalance.max.delay.ms': '0',
    listeners: url,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(port),
    'plugin.path': plugins,
    'plugin.discovery': 'hybrid_warn',
    'task.shutdown.graceful.timeout.ms': '2000',
  };
  const propsFile = join(dir, 'worker.properties');
  const log4j = join(dir, 'log4j2.properties');
  const logFile = join(dir, 'connect.log');
  await writeFile(propsFile, `${Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  await writeFile(log4j, log4jProperties(logFile));
  const java = javaBin();
  const cp = classpath('connect');
  let proc: GuardedProcess | undefined;

  const waitReady = async (p: GuardedProcess): Promise<void> => {
    const timeoutMs = opts.startTimeoutMs ?? 90_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await rest(`${url}/connector-plugins`);
      if (r.status === 200 && r.body.includes('io.debezium.connector.postgresql.PostgresConnector')) return;
      if (!p.running) throw new Error(`kafka connect exited during start-up; last lines of its log:\n${p.logTail(40, logFile)}`);
      if (Date.now() > deadline) {
        throw new Error(`kafka connect: GET /connector-plugins did not list the PostgresConnector within ${timeoutMs} ms (last HTTP ${r.status}); log since start:\n${p.logTail(40, logFile)}`);
      }
      await new Promise((r2) => setTimeout(r2, 250));
    }
  };
  const start = async (): Promise<void> => {
    proc = await GuardedProcess.start(java, [...jvmOptions(opts.heapMb ?? 512, log4j, dir), '-cp', cp, 'org.apache.kafka.connect.cli.ConnectDistributed', propsFile], {
      name: 'kafka connect',
      logFile: join(dir, 'stdout.log'),
      cleanDir: dir,
    });
    await waitReady(proc);
  };

  try {
    await start();
  } catch (e) {
    await proc?.kill();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }

  const status = async (name: string): Promise<ConnectorStatus | undefined> => {
    const r = await rest(`${url}/connectors/${encodeURIComponent(name)}/status`);
    return r.status === 200 ? (JSON.parse(r.body) as ConnectorStatus) : undefined;
  };

  return {
    url,
    groupId,
    get running() {
      return proc?.running ?? false;
    },
    async register(name, file, overrides) {
      const source = join(repoRoot(), 'debezium', file);
      const config = { ...(JSON.parse(readFileSync(source, 'utf8')) as Record<string, string>), ...overrides };
      const configFile = join(dir, `${name}.json`);
      await writeFile(configFile, JSON.stringify(config, null, 2));
      try {
        await run('sh', [join(repoRoot(), 'debezium', 'register.sh')], {
          env: { ...process.env, CONNECT_URL: url, CONNECTOR_NAME: name, CONNECTOR_CONFIG: configFile, MAX_TRIES: '120', SLEEP_SECONDS: '0.5' },
          timeout: 120_000,
        });
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`debezium/register.sh failed for ${name}: ${err.stderr ?? err.message}\nconnect log:\n${proc?.logTail(30, logFile) ?? ''}`);
      }
    },
    status,
    async remove(name) {
      await rest(`${url}/connectors/${encodeURIComponent(name)}`, { method: 'DELETE' });
    },
    kill: async () => proc?.kill(),
    start,
    async stop() {
      await proc?.stop('SIGTERM', 10_000);
      await rm(dir, { recursive: true, force: true });
    },
    logTail: (lines = 40) => proc?.logTail(lines, logFile) ?? '',
  };
}
