/**
 * The bench's Kafka broker: Apache Kafka (test/support/stack/kafka.ts, one KRaft node, the default)
 * or librdkafka's mock cluster hosted by kcat (`--broker mock`). Both are started and stopped by the
 * bench. On the real broker every topic is created explicitly (auto-creation is off, as in
 * production) and nothing is ever deleted by retention while the bench runs; the mock creates topics
 * on first use with 4 partitions and keeps about 5 MiB per partition.
 */
import type { Admin } from 'kafkajs';
import { startKafkaBroker } from '../../test/support/kafka-broker.js';
import { startKafka, KAFKA_VERSION } from '../../test/support/stack/kafka.js';

export type BrokerChoice = 'real' | 'mock';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
}

export interface BenchBroker {
  readonly kind: BrokerChoice;
  /** e.g. "Apache Kafka 4.3.1 (KRaft, 1 node, heap 512 MiB)" */
  readonly description: string;
  readonly brokers: readonly string[];
  /** Bytes one partition keeps; the stream is planned to stay under it (Infinity: no limit while the bench runs). */
  readonly partitionBudgetBytes: number;
  /** Whether a topic can have another partition count than 4 (the mock auto-creates 4). */
  readonly anyPartitionCount: boolean;
  /** Creates the topics (real broker) and waits for their leaders; the mock creates them on first use. */
  createTopics(admin: Admin, topics: readonly TopicSpec[]): Promise<void>;
  stop(): Promise<void>;
}

/** Broker settings for a bench: no retention or cleanup during the run, segments of a sane size, large batches allowed. */
export const REAL_BROKER_CONFIG: Readonly<Record<string, string>> = {
  'log.retention.ms': '-1',
  'log.retention.bytes': '-1',
  'log.segment.bytes': String(128 * 1024 * 1024),
  'log.cleaner.enable': 'false',
  'message.max.bytes': String(16 * 1024 * 1024),
  'replica.fetch.max.bytes': String(16 * 1024 * 1024),
  'num.network.threads': '2',
  'num.io.threads': '2',
};

export const REAL_BROKER_HEAP_MB = 512;

/** The mock cluster keeps ~5 MiB per partition; the bench stays well below it. */
const MOCK_PARTITION_BUDGET_BYTES = 3.5 * 1024 * 1024;

export async function startBenchBroker(kind: BrokerChoice): Promise<BenchBroker> {
  if (kind === 'mock') {
    const mock = await startKafkaBroker('mock');
    return {
      kind,
      description: 'librdkafka mock cluster (kcat)',
      brokers: mock.brokers,
      partitionBudgetBytes: MOCK_PARTITION_BUDGET_BYTES,
      anyPartitionCount: false,
      createTopics: () => Promise.resolve(),
      stop: () => mock.stop(),
    };
  }
  const kafka = await startKafka({ nodes: 1, numPartitions: 4, heapMb: REAL_BROKER_HEAP_MB, autoCreateTopics: false, config: REAL_BROKER_CONFIG });
  return {
    kind,
    description: `Apache Kafka ${KAFKA_VERSION} (KRaft, 1 node, heap ${REAL_BROKER_HEAP_MB} MiB)`,
    brokers: [...kafka.brokers],
    partitionBudgetBytes: Infinity,
    anyPartitionCount: true,
    async createTopics(admin, topics) {
      if (topics.length === 0) return;
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return;
      await admin.createTopics({ topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.partitions, replicationFactor: 1 })), waitForLeaders: true, timeout: 60_000 });
    },
    stop: () => kafka.stop(),
  };
}
