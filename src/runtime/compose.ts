import type { Logger } from 'pino';
import type { RunConfig } from '../config/run-config.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import { createDecoder } from '../pipeline/decode/format.js';
import { RedisSink } from '../pipeline/sink/redis-sink.js';
import { KafkaDeadLetter } from '../pipeline/poison/dead-letter.js';
import { createKafka } from '../pipeline/source/kafka-client.js';
import { KafkaSource } from '../pipeline/source/kafka-source.js';
import type { Source } from '../pipeline/source/source.js';
import { topicsForPrefix } from '../domain/types.js';
import { Worker } from '../pipeline/worker.js';
import { Stats } from '../telemetry/stats.js';
import { DEFAULT_BACKOFF } from '../util/backoff.js';

/** What a caller may supply instead of the defaults (the bench's client bake-off brings its own Source). */
export interface ComposeOverrides {
  /** Builds the Source from the resolved topics (default: kafkajs through KafkaSource). */
  readonly source?: (topics: readonly (string | RegExp)[]) => Source;
}

/** The composition root: real Kafka source, Redis sink and JSON decoder wired into a Worker. */
export function composeWorker(config: RunConfig, mappings: MappingSet, logger: Logger, stats = new Stats(), overrides: ComposeOverrides = {}): Worker {
  const topics =
    config.topics.kind === 'list'
      ? config.topics.topics
      : config.topics.kind === 'regex'
        ? [config.topics.pattern]
        : topicsForPrefix(config.topics.prefix, mappings.tables());
  const kafka = createKafka({ brokers: config.brokers, clientId: 'cdc-invalidator', security: config.kafkaSecurity }, logger);
  const source =
    overrides.source?.(topics) ??
    new KafkaSource(
      kafka,
      {
        groupId: config.group,
        topics,
        fromBeginning: config.fromBeginning,
        sessionTimeoutMs: config.sessionTimeoutMs,
        rebalanceTimeoutMs: config.rebalanceTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        partitionsConsumedConcurrently: config.concurrency,
        maxBytesPerPartition: 1_048_576,
        maxWaitTimeMs: config.fetchMaxWaitMs,
      },
      logger,
    );
  const sink = new RedisSink({ connection: config.redis, commandTimeoutMs: config.redisTimeoutMs, chunkSize: 512, waitReplicas: config.redisWaitReplicas }, logger);
  return new Worker(
    {
      secondDeleteDelayMs: config.secondDeleteDelayMs,
      commitIntervalMs: config.commitIntervalMs,
      maxPendingSecondDeletes: config.maxPendingSecondDeletes,
      backoff: DEFAULT_BACKOFF,
      onError: config.onError,
      poisonTolerance: config.poisonTolerance,
      shutdownGraceMs: config.shutdownGraceMs,
      maxRecordBytes: config.maxRecordBytes,
      ...(config.verifySample > 0 ? { verify: { sample: config.verifySample, afterMs: config.verifyAfterMs, maxPending: config.verifyMaxPending } } : {}),
    },
    {
      source,
      sink,
      mappings,
      decode: createDecoder(config),
      logger,
      stats,
      verifyStore: sink,
      ...(config.onError === 'dlq' ? { deadLetter: new KafkaDeadLetter(kafka, config.dlqTopic) } : {}),
    },
  );
}
