/**
 * The pipeline's `Source` port through @confluentinc/kafka-javascript's KafkaJS-compatible API
 * (librdkafka underneath), for the bench's client bake-off: eachBatch, no auto-commit, no
 * auto-resolve, as KafkaSource does with kafkajs. Batches are up to `maxBatch` records
 * (js.consumer.max.batch.size; librdkafka builds them client-side). It has not been through the
 * real-broker group, rebalance, SASL/TLS and replay suites.
 */
import type { Logger } from 'pino';
import type { SourceRecord, TopicPartitionOffset } from '../../../src/domain/types.js';
import type { BenchSourceOptions } from './options.js';
import type { BatchHandler, Source, SourceEvents } from '../../../src/pipeline/source/source.js';
import type { CKConsumer, CKMessage, ConfluentModule } from './confluent.js';

export interface ConfluentSourceOptions extends BenchSourceOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Largest batch handed over (librdkafka's client-side batches). */
  readonly maxBatch?: number;
}

function headerMap(h: CKMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = first === undefined ? undefined : Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

export class ConfluentSource implements Source {
  readonly #consumer: CKConsumer;

  constructor(lib: ConfluentModule, private readonly opts: ConfluentSourceOptions, private readonly logger: Logger) {
    // librdkafka's log goes to pino (its default logger writes to the console)
    const child = logger.child({ component: 'librdkafka' });
    const log = {
      info: (message: string, extra?: object) => child.debug(extra ?? {}, message),
      debug: (message: string, extra?: object) => child.debug(extra ?? {}, message),
      warn: (message: string, extra?: object) => child.warn(extra ?? {}, message),
      error: (message: string, extra?: object) => child.error(extra ?? {}, message),
      setLogLevel: () => undefined,
      namespace() {
        return this;
      },
    };
    const kafka = new lib.KafkaJS.Kafka({ kafkaJS: { clientId: opts.clientId, brokers: [...opts.brokers], logger: log } });
    this.#consumer = kafka.consumer({
      kafkaJS: {
        groupId: opts.groupId,
        fromBeginning: opts.fromBeginning,
        autoCommit: false,
        sessionTimeout: opts.sessionTimeoutMs,
        rebalanceTimeout: opts.rebalanceTimeoutMs,
        heartbeatInterval: opts.heartbeatIntervalMs,
        maxBytesPerPartition: opts.maxBytesPerPartition,
        ...(opts.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: opts.maxWaitTimeMs } : {}),
      },
      'js.consumer.max.batch.size': opts.maxBatch ?? 1000,
      'enable.partition.eof': false,
    });
  }

  async start(handler: BatchHandler, events: SourceEvents): Promise<void> {
    const c = this.#consumer;
    const topics = [...this.opts.topics];
    await c.connect();
    await c.subscribe({ topics });
    let announced = '';
    await c.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatch: async (p) => {
        // librdkafka assigns in the background; announce each new assignment before its first batch.
        const assignment = c.assignment();
        const id = JSON.stringify(assignment);
        if (id !== announced) {
          announced = id;
          const byTopic = new Map<string, number[]>();
          for (const a of assignment) byTopic.set(a.topic, [...(byTopic.get(a.topic) ?? []), a.partition]);
          events.onAssigned(byTopic);
        }
        const { topic, partition } = p.batch;
        const records: SourceRecord[] = p.batch.messages.map((m) => ({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: headerMap(m.headers) }));
        await handler({
          topic,
          partition,
          records,
          highWatermark: p.batch.highWatermark,
          heartbeat: () => p.heartbeat(),
          isActive: () => p.isRunning() && !p.isStale(),
          markFetched: (offset) => p.resolveOffset(offset),
        });
      },
    });
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    await this.#consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
  }

  pauseAll(): void {
    const assigned = this.#consumer.assignment();
    if (assigned.length > 0) this.#consumer.pause(assigned.map((a) => ({ topic: a.topic, partitions: [a.partition] })));
  }

  async stop(): Promise<void> {
    this.logger.debug('confluent consumer disconnecting');
    await this.#consumer.disconnect();
  }
}
