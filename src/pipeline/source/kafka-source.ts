import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { TopicPartitionOffset } from '../../domain/types.js';
import { toSourceBatch } from './kafkajs-batch.js';
import type { BatchHandler, Source, SourceBatch, SourceEvents } from './source.js';

export interface KafkaSourceOptions {
  readonly groupId: string;
  /** Explicit topics or one regex (kafkajs matches it against the topics that exist at start). */
  readonly topics: readonly (string | RegExp)[];
  readonly fromBeginning: boolean;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly maxBytesPerPartition: number;
  /** Longest wait of a fetch for new records (kafkajs' default is 5 s; the Java client's and librdkafka's 500 ms). */
  readonly maxWaitTimeMs?: number;
}

/** The Kafka consumer group, through kafkajs: eachBatch, no auto-commit, no auto-resolve. */
export class KafkaSource implements Source {
  readonly #consumer: Consumer;
  #assignment = new Map<string, number[]>();

  constructor(kafka: Kafka, private readonly opts: KafkaSourceOptions, private readonly logger: Logger) {
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      rebalanceTimeout: opts.rebalanceTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      ...(opts.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: opts.maxWaitTimeMs } : {}),
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
    });
  }

  async start(handler: BatchHandler, events: SourceEvents): Promise<void> {
    const c = this.#consumer;
    c.on(c.events.GROUP_JOIN, (e) => {
      this.#assignment = new Map(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps]]));
      events.onAssigned(this.#assignment);
    });
    c.on(c.events.CRASH, (e) => {
      const { error, restart } = e.payload as { error: Error; restart: boolean };
      this.logger.warn({ err: error, restart }, 'kafka consumer crashed');
      if (!restart) events.onCrash(error);
    });
    await c.connect();
    await c.subscribe({ topics: [...this.opts.topics], fromBeginning: this.opts.fromBeginning });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatch: (payload) => handler(this.#toBatch(payload)),
    });
  }

  #toBatch(p: EachBatchPayload): SourceBatch {
    return toSourceBatch(p, p.batch.messages);
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
  }

  pauseAll(): void {
    const topics = [...this.#assignment.keys()];
    if (topics.length > 0) this.#consumer.pause(topics.map((topic) => ({ topic })));
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect();
  }
}
