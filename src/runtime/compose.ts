import type { Logger } from 'pino';
import type { RunConfig } from '../config/run-config.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import { createDecoder } from '../pipeline/decode/format.js';
import { RedisSink } from '../pipeline/sink/redis-sink.js';
import { KafkaDeadLetter } from '../pipeline/poison/dead-letter.js';
import { createKafka } from '../pipeline/source/kafka-client.js';
import { KafkaSource } from '../pipeline/source/kafka-source.js';
import type { Source } from '../pipeline/source/source.js';
import { topicMatcher, type TopicMatcher } from '../pipeline/source/topic-match.js';
import { Worker } from '../pipeline/worker.js';
import { Stats } from '../telemetry/stats.js';
import { DEFAULT_BACKOFF } from '../util/backoff.js';

/** What a caller may supply instead of the defaults (the bench's client bake-off brings its own Source). */
export interface ComposeOverrides {
  /** Builds the Source for the configured topics (default: kafkajs through KafkaSource). */
  readonly source?: (topics: TopicMatcher) => Source;
}

/** The group and fetch settings of the worker's consumer, whichever client carries them. */
export function consumerSettings(config: RunConfig) {
  return {
    groupId: config.group,
    sessionTimeoutMs: config.sessionTimeoutMs,
    rebalanceTimeoutMs: config.rebalanceTimeoutMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    partitionsConsumedConcurrently: config.concurrency,
    maxBytesPerPartition: 1_048_576,
    maxWaitTimeMs: config.fetchMaxWaitMs,
  } as const;
}

/** The composition root: real Kafka source, Redis sink and JSON decoder wired into a Worker. */
export function composeWorker(config: RunConfig, mappings: MappingSet, logger: Logger, stats = new Stats(), overrides: ComposeOverrides = {}): Worker {
  const matcher = topicMatcher(config.topics, mappings.tables());
  const kafka = createKafka({ brokers: config.brokers, clientId: 'cdc-invalidator', security: config.kafkaSecurity }, logger);
  const source =
    overrides.source?.(matcher) ??
    new KafkaSource(
      kafka,
      {
        ...consumerSettings(config),
        topics: matcher,
        initialPosition: config.initialPosition,
        topicRefreshMs: config.topicRefreshMs,
        onRetentionLoss: (loss) => stats.inc('records_lost', { topic: loss.topic, partition: String(loss.partition) }, Number(loss.lost)),
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
      heartbeatEveryMs: Math.min(1_000, config.heartbeatIntervalMs),
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
      ...(config.onError === 'dlq' ? { deadLetter: new KafkaDeadLetter(kafka, { topic: config.dlqTopic, ...(config.dlqCreate ? { create: config.dlqCreate } : {}) }, logger) } : {}),
    },
  );
}
