import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { parse } from 'yaml';
import { repoRoot } from '../support/paths.js';
import { freePort } from '../support/ports.js';

/**
 * The pipeline of docker-compose.yml — Postgres, Kafka (KRaft), Debezium Connect, the one-shot connector
 * registration, Redis — started with testcontainers on one network. Images, commands and environment are
 * read from docker-compose.yml, so this is the stack users run; only Kafka's host listener is re-advertised
 * (the worker runs on the host, against a published port chosen here).
 */

interface ComposeService {
  image: string;
  command?: string | string[];
  environment?: Record<string, string | number>;
}

const root = repoRoot();
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };

function composeService(name: string): ComposeService {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

/** `${VAR:-default}` as compose expands it. */
function expand(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => env[name] || (fallback ?? ''));
}

const image = (name: string): string => expand(composeService(name).image);
const environment = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(composeService(name).environment ?? {}).map(([k, v]) => [k, expand(String(v))]));
const command = (name: string): string[] => {
  const c = composeService(name).command ?? [];
  return Array.isArray(c) ? c : c.split(/\s+/).filter(Boolean);
};

/** The last bytes a container wrote, for failure messages. */
class LogTail {
  #text = '';
  constructor(private readonly max = 16_384) {}
  consume = (stream: Readable): void => {
    stream.on('data', (d: Buffer | string) => {
      this.#text = (this.#text + d.toString()).slice(-this.max);
    });
  };
  toString(): string {
    return this.#text;
  }
}

export interface Stack {
  readonly postgresUrl: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: string;
  readonly connectUrl: string;
  readonly topicPrefix: string;
  /** Recent output of a container (postgres, kafka, connect, register-connector, redis). */
  logs(service: string): string;
  stop(): Promise<void>;
}

const STARTUP_MS = 240_000;

/**
 * Starts the stack and registers the connector (register.sh in the compose curl image, as compose does);
 * resolves once the connector and its task are RUNNING. `host` is where the engine publishes ports.
 */
export async function startStack(host: string): Promise<Stack> {
  const started: StartedTestContainer[] = [];
  const tails = new Map<string, LogTail>();
  const tail = (name: string): LogTail => {
    const t = new LogTail();
    tails.set(name, t);
    return t;
  };
  let network: StartedNetwork | undefined;
  const stop = async (): Promise<void> => {
    for (const c of started.reverse()) await c.stop({ timeout: 10_000 }).catch(() => undefined);
    await network?.stop().catch(() => undefined);
  };
  try {
    network = await new Network().start();

    const pgEnv = environment('postgres');
    const postgresStart = new GenericContainer(image('postgres'))
      .withNetwork(network)
      .withNetworkAliases('postgres')
      .withCommand(command('postgres'))
      .withEnvironment(pgEnv)
      .withCopyFilesToContainer([{ source: join(root, 'docker', 'postgres', 'init.sql'), target: '/docker-entrypoint-initdb.d/10-init.sql' }])
      .withExposedPorts(5432)
      // Over TCP: not healthy while the entrypoint's init server (socket only) runs init.sql.
      .withHealthCheck({ test: ['CMD-SHELL', `pg_isready -h 127.0.0.1 -p 5432 -U ${pgEnv['POSTGRES_USER']} -d ${pgEnv['POSTGRES_DB']}`], interval: 1000, timeout: 5000, retries: 120 })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(STARTUP_MS)
      .withLogConsumer(tail('postgres').consume)
      .start();

    // Kafka's EXTERNAL listener is published on a host port chosen now, so it can be advertised before start.
    const kafkaHostPort = await freePort();
    const kafkaEnv = environment('kafka');
    kafkaEnv['KAFKA_ADVERTISED_LISTENERS'] = (kafkaEnv['KAFKA_ADVERTISED_LISTENERS'] ?? '').replace(/EXTERNAL:\/\/[^,]+/, `EXTERNAL://${host}:${kafkaHostPort}`);
    const externalPort = Number(/EXTERNAL:\/\/:(\d+)/.exec(kafkaEnv['KAFKA_LISTENERS'] ?? '')?.[1]);
    if (!externalPort) throw new Error('docker-compose.yml: kafka has no EXTERNAL listener in KAFKA_LISTENERS');
    const kafkaStart = new GenericContainer(image('kafka'))
      .withNetwork(network)
      .withNetworkAliases('kafka')
      .withEnvironment(kafkaEnv)
      .withExposedPorts({ container: externalPort, host: kafkaHostPort })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(STARTUP_MS)
      .withLogConsumer(tail('kafka').consume)
      .start();

    const redisStart = new GenericContainer(image('redis'))
      .withCommand(command('redis'))
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .withStartupTimeout(STARTUP_MS)
      .withLogConsumer(tail('redis').consume)
      .start();

    const first = await Promise.allSettled([postgresStart, kafkaStart, redisStart]);
    for (const r of first) if (r.status === 'fulfilled') started.push(r.value);
    const failed = first.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [postgres, , redis] = first.map((r) => (r as PromiseFulfilledResult<StartedTestContainer>).value) as [StartedTestContainer, StartedTestContainer, StartedTestContainer];

    const connect = await new GenericContainer(image('connect'))
      .withNetwork(network)
      .withNetworkAliases('connect')
      .withEnvironment(environment('connect'))
      .withExposedPorts(8083)
      .withWaitStrategy(Wait.forHttp('/connectors', 8083).forStatusCode(200))
      .withStartupTimeout(STARTUP_MS)
      .withLogConsumer(tail('connect').consume)
      .start();
    started.push(connect);

    // The one-shot registration, as compose runs it: register.sh PUTs debezium/postgres-connector.json (its
    // database.hostname "postgres" is the network alias above) and exits 0 once the task is RUNNING.
    const registerLogs = tail('register-connector');
    const registerService = composeService('register-connector') as ComposeService & { entrypoint?: string[] };
    try {
      const register = await new GenericContainer(image('register-connector'))
        .withNetwork(network)
        .withEnvironment(environment('register-connector'))
        .withCopyFilesToContainer([
          { source: join(root, 'debezium', 'register.sh'), target: '/debezium/register.sh' },
          { source: join(root, 'debezium', 'postgres-connector.json'), target: '/debezium/postgres-connector.json' },
        ])
        .withEntrypoint(registerService.entrypoint ?? ['/bin/sh', '/debezium/register.sh'])
        .withWaitStrategy(Wait.forOneShotStartup())
        .withStartupTimeout(STARTUP_MS)
        .withLogConsumer(registerLogs.consume)
        .start();
      started.push(register);
    } catch (e) {
      throw new Error(`connector registration failed: ${(e as Error).message}\nregister.sh:\n${registerLogs.toString()}\nconnect:\n${tails.get('connect')?.toString()}`);
    }

    const pgUser = pgEnv['POSTGRES_USER'] ?? 'postgres';
    const pgPassword = pgEnv['POSTGRES_PASSWORD'] ?? 'postgres';
    const connector = JSON.parse(readFileSync(join(root, 'debezium', 'postgres-connector.json'), 'utf8')) as Record<string, string>;
    return {
      postgresUrl: `postgres://${pgUser}:${pgPassword}@${postgres.getHost()}:${postgres.getMappedPort(5432)}/${pgEnv['POSTGRES_DB'] ?? 'postgres'}`,
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      kafkaBrokers: `${host}:${kafkaHostPort}`,
      connectUrl: `http://${connect.getHost()}:${connect.getMappedPort(8083)}`,
      topicPrefix: connector['topic.prefix'] ?? '',
      logs: (service) => tails.get(service)?.toString() ?? '',
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
