import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type ITopicConfig, type KafkaConfig } from 'kafkajs';
import { makeTestCerts, type TestCerts } from '../certs.js';
import { freePort } from '../ports.js';
import { GuardedProcess } from './guarded-process.js';
import { classpath, javaBin, jvmOptions, log4jProperties } from './jars.js';
import { fileSize, waitForLine } from './wait-log.js';

const run = promisify(execFile);

/** The Kafka version the stack runs (stack/maven/pom.xml pins it). */
export const KAFKA_VERSION = '4.3.1';

export interface KafkaStackOptions {
  /** 1 (default) or 3 nodes, each broker + controller (KRaft combined mode). */
  readonly nodes?: number;
  /** Adds SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL (client certificate required) and SASL_SSL listeners. */
  readonly security?: boolean;
  /** auto.create.topics.enable (default false, as in production). */
  readonly autoCreateTopics?: boolean;
  /** num.partitions for topics created without a count (default 1). */
  readonly numPartitions?: number;
  /** Extra broker settings (win over the defaults). */
  readonly config?: Readonly<Record<string, string>>;
  readonly heapMb?: number;
  readonly startTimeoutMs?: number;
  /** The passphrase the client key (certs.clientKeyFile) is encrypted with (default: random). */
  readonly clientKeyPassphrase?: string;
}

export interface SaslUser {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

export interface KafkaNodePorts {
  readonly plaintext: number;
  readonly controller: number;
  readonly saslPlaintext?: number;
  readonly ssl?: number;
  readonly saslSsl?: number;
}

export interface KafkaNode {
  readonly id: number;
  readonly ports: KafkaNodePorts;
  readonly dir: string;
  readonly running: boolean;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** SIGTERM (controlled shutdown), SIGKILL after the grace. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it logged "Kafka Server started". */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the node stops answering without closing its sockets. */
  freeze(): void;
  thaw(): void;
  logTail(lines?: number): string;
}

export interface KafkaStack {
  /** PLAINTEXT bootstrap addresses of every node. */
  readonly brokers: readonly string[];
  readonly listeners: {
    readonly plaintext: readonly string[];
    readonly saslPlaintext?: readonly string[];
    readonly ssl?: readonly string[];
    readonly saslSsl?: readonly string[];
  };
  /** SASL users known to the brokers (with security). */
  readonly users: { readonly plain: SaslUser; readonly scram256: SaslUser; readonly scram512: SaslUser };
  /** CA, server and client certificates (with security): the brokers trust clients signed by the CA. */
  readonly certs?: TestCerts;
  readonly nodes: readonly KafkaNode[];
  readonly clusterId: string;
  /** A kafkajs client on the PLAINTEXT listeners, for tests. */
  kafka(config?: Partial<KafkaConfig>): Kafka;
  /** Creates topics and waits for their leaders. */
  createTopics(topics: readonly ITopicConfig[]): Promise<void>;
  /** Runs a kafka-tools main class (ConfigCommand, TopicCommand, …) against this cluster; resolves with its output. */
  tool(mainClass: string, args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

/** A cluster id: 16 random bytes, unpadded base64url (what `kafka-storage random-uuid` prints). */
function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < n && i < n * 20; i++) ports.add(await freePort());
  if (ports.size < n) throw new Error(`could not find ${n} free ports`);
  return [...ports];
}

const PASSWORDS = {
  plain: `plain-${randomBytes(6).toString('hex')}`,
  scram256: `s256-${randomBytes(6).toString('hex')}`,
  scram512: `s512-${randomBytes(6).toString('hex')}`,
};

const USERS = {
  plain: { mechanism: 'plain', username: 'alice', password: PASSWORDS.plain },
  scram256: { mechanism: 'scram-sha-256', username: 'bob', password: PASSWORDS.scram256 },
  scram512: { mechanism: 'scram-sha-512', username: 'carol', password: PASSWORDS.scram512 },
} as const satisfies KafkaStack['users'];

function properties(map: Readonly<Record<string, string>>): string {
  return `${Object.entries(map)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

interface NodePlan {
  readonly id: number;
  readonly ports: KafkaNodePorts;
  readonly dir: string;
}

function brokerConfig(node: NodePlan, all: readonly NodePlan[], opts: KafkaStackOptions, certs: TestCerts | undefined, keystore: string | undefined): Record<string, string> {
  const n = all.length;
  const p = node.ports;
  const listeners = [`PLAINTEXT://127.0.0.1:${p.plaintext}`];
  const protocolMap = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  if (p.saslPlaintext) {
    listeners.push(`SASL_PLAINTEXT://127.0.0.1:${p.saslPlaintext}`, `SSL://127.0.0.1:${p.ssl}`, `SASL_SSL://127.0.0.1:${p.saslSsl}`);
    protocolMap.push('SASL_PLAINTEXT:SASL_PLAINTEXT', 'SSL:SSL', 'SASL_SSL:SASL_SSL');
  }
  const config: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': String(node.id),
    'controller.quorum.voters': all.map((o) => `${o.id}@127.0.0.1:${o.ports.controller}`).join(','),
    'controller.listener.names': 'CONTROLLER',
    listeners: [...listeners, `CONTROLLER://127.0.0.1:${p.controller}`].join(','),
    'advertised.listeners': listeners.join(','),
    'listener.security.protocol.map': protocolMap.join(','),
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': join(node.dir, 'data'),
    'auto.create.topics.enable': String(opts.autoCreateTopics ?? false),
    'num.partitions': String(opts.numPartitions ?? 1),
    'default.replication.factor': String(n),
    'min.insync.replicas': String(n > 1 ? 2 : 1),
    'offsets.topic.replication.factor': String(n),
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': String(n),
    'transaction.state.log.min.isr': String(n > 1 ? 2 : 1),
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': String(n),
    'share.coordinator.state.topic.min.isr': String(n > 1 ? 2 : 1),
    'group.initial.rebalance.delay.ms': '0',
    'num.network.threads': '2',
    'num.io.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
    'log.retention.check.interval.ms': '1000',
    'log.cleaner.backoff.ms': '1000',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': String(8 * 1024 * 1024),
    'log.segment.delete.delay.ms': '1000',
    'log.initial.task.delay.ms': '1000',
    'controlled.shutdown.enable': 'true',
  };
  if (p.saslPlaintext && certs && keystore) {
    Object.assign(config, {
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.caFile,
      'listener.name.ssl.ssl.client.auth': 'required',
      'listener.name.sasl_ssl.ssl.client.auth': 'none',
    });
    for (const listener of ['sasl_plaintext', 'sasl_ssl']) {
      config[`listener.name.${listener}.plain.sasl.jaas.config`] =
        `org.apache.kafka.common.security.plain.PlainLoginModule required user_${USERS.plain.username}="${USERS.plain.password}";`;
      config[`listener.name.${listener}.scram-sha-256.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
      config[`listener.name.${listener}.scram-sha-512.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    }
  }
  return { ...config, ...opts.config };
}

/**
 * Apache Kafka from the Maven registry's jars (stack/maven), in KRaft combined mode on 127.0.0.1 and
 * random ports, data in a temp dir. Every node is formatted with a static voter set, so a node can be
 * killed and started again on its ports and data. Ready when every node logged "Kafka Server started"
 * and the cluster metadata (ApiVersions + Metadata through kafkajs) lists every broker.
 */
export async function startKafka(opts: KafkaStackOptions = {}): Promise<KafkaStack> {
  const n = opts.nodes ?? 1;
  const root = await mkdtemp(join(tmpdir(), 'cdci-kafka-'));
  const started: GuardedProcess[] = [];
  try {
    const security = opts.security ?? false;
    const certs = security ? makeTestCerts(opts.clientKeyPassphrase ?? `key-${randomBytes(4).toString('hex')}`) : undefined;
    let keystore: string | undefined;
    if (certs) {
      keystore = join(root, 'server-keystore.pem');
      await writeFile(keystore, (await readFile(certs.serverKeyFile, 'utf8')) + (await readFile(certs.serverCertFile, 'utf8')));
    }
    const perNode = security ? 5 : 2;
    const ports = await distinctPorts(n * perNode);
    const plans: NodePlan[] = [];
    for (let i = 0; i < n; i++) {
      const q = ports.slice(i * perNode, (i + 1) * perNode);
      const dir = join(root, `node-${i + 1}`);
      await mkdir(dir, { recursive: true });
      plans.push({
        id: i + 1,
        dir,
        ports: security
          ? { plaintext: q[0]!, controller: q[1]!, saslPlaintext: q[2]!, ssl: q[3]!, saslSsl: q[4]! }
          : { plaintext: q[0]!, controller: q[1]! },
      });
    }
    const clusterId = newClusterId();
    const cp = classpath('kafka');
    const java = javaBin();
    const heap = opts.heapMb ?? (n > 1 ? 320 : 512);

    const toolsLog4j = join(root, 'tools-log4j2.properties');
    await writeFile(toolsLog4j, log4jProperties(join(root, 'tools.log')));
    const nodes: KafkaNode[] = [];
    for (const plan of plans) {
      const propsFile = join(plan.dir, 'server.properties');
      const log4j = join(plan.dir, 'log4j2.properties');
      const serverLog = join(plan.dir, 'server.log');
      await writeFile(propsFile, properties(brokerConfig(plan, plans, opts, certs, keystore)));
      await writeFile(log4j, log4jProperties(serverLog));
      const format = ['-cp', cp, `-Dlog4j2.configurationFile=${log4j}`, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', propsFile];
      if (security) {
        format.push('--add-scram', `SCRAM-SHA-256=[name=${USERS.scram256.username},password=${USERS.scram256.password}]`);
        format.push('--add-scram', `SCRAM-SHA-512=[name=${USERS.scram512.username},password=${USERS.scram512.password}]`);
      }
      try {
        await run(java, format, { timeout: 60_000 });
      } catch (e) {
        throw new Error(`kafka node ${plan.id}: storage format failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
      }
      let proc: GuardedProcess | undefined;
      const startNode = async (): Promise<void> => {
        const from = fileSize(serverLog);
        proc = await GuardedProcess.start(java, [...jvmOptions(heap, log4j, plan.dir), '-cp', cp, 'kafka.Kafka', propsFile], {
          name: `kafka node ${plan.id}`,
          logFile: join(plan.dir, 'stdout.log'),
          cleanDir: root,
        });
        started.push(proc);
        await waitForLine(proc, serverLog, /Kafka Server started/, { from, timeoutMs: opts.startTimeoutMs ?? 60_000 });
      };
      nodes.push({
        id: plan.id,
        ports: plan.ports,
        dir: plan.dir,
        get running() {
          return proc?.running ?? false;
        },
        kill: async () => proc?.kill(),
        stop: async () => proc?.stop('SIGTERM', 30_000),
        start: startNode,
        freeze: () => proc?.signal('SIGSTOP'),
        thaw: () => proc?.signal('SIGCONT'),
        logTail: (lines = 40) => proc?.logTail(lines, serverLog) ?? '',
      });
    }
    // Start every node at once: a 3-node quorum needs a majority up before any broker is "started".
    await Promise.all(nodes.map((node) => node.start()));

    const addrs = (key: keyof KafkaNodePorts): string[] | undefined => (security || key === 'plaintext' ? plans.map((p) => `127.0.0.1:${p.ports[key]}`) : undefined);
    const brokers = addrs('plaintext')!;
    const kafka = (config: Partial<KafkaConfig> = {}): Kafka =>
      new Kafka({ clientId: 'cdci-test', brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 }, ...config });

    // ApiVersions + Metadata: every broker is registered and answers.
    const admin = kafka().admin();
    await admin.connect();
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { brokers: seen } = await admin.describeCluster();
        if (seen.length === n) break;
        if (Date.now() > deadline) throw new Error(`kafka: ${seen.length} of ${n} brokers registered after 30 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // The group coordinator: the first OffsetFetch creates __consumer_offsets, and until its
      // partition is loaded the coordinator answers COORDINATOR_LOAD_IN_PROGRESS (which kafkajs'
      // admin does not retry). A production broker is past this; tests start once it is too.
      for (;;) {
        try {
          await admin.fetchOffsets({ groupId: 'cdci-stack-probe', topics: [] });
          break;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`kafka: the group coordinator was not ready within 30 s: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await admin.disconnect();
    }

    const stack: KafkaStack = {
      brokers,
      listeners: {
        plaintext: brokers,
        ...(security ? { saslPlaintext: addrs('saslPlaintext')!, ssl: addrs('ssl')!, saslSsl: addrs('saslSsl')! } : {}),
      },
      users: USERS,
      ...(certs ? { certs } : {}),
      nodes,
      clusterId,
      kafka,
      async createTopics(topics) {
        const a = kafka().admin();
        await a.connect();
        try {
          await a.createTopics({ topics: topics.map((t) => ({ replicationFactor: n, ...t })), waitForLeaders: true, timeout: 30_000 });
        } finally {
          await a.disconnect();
        }
      },
      async tool(mainClass, args) {
        const { stdout, stderr } = await run(java, ['-Xmx256m', '-XX:+UseSerialGC', '-cp', cp, `-Dlog4j2.configurationFile=${toolsLog4j}`, mainClass, ...args], {
          timeout: 120_000,
        });
        return stdout + stderr;
      },
      async stop() {
        await Promise.all(nodes.map((node) => node.kill()));
        await rm(root, { recursive: true, force: true });
        if (certs) await rm(certs.dir, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (e) {
    await Promise.all(started.map((p) => p.kill()));
    await rm(root, { recursive: true, force: true });
    throw e;
  }
}
