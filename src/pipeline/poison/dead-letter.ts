import kafkajs, { type Kafka, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { ConfigError } from '../../config/errors.js';
import type { SourceRecord } from '../../domain/types.js';
import { classifyProduceError } from './produce-errors.js';

/** Why a record was dead-lettered: a stable code and a human message. */
export interface PoisonInfo {
  readonly code: string;
  readonly message: string;
  /** For `internal` poison (a bug): the stack, kept in a header. */
  readonly stack?: string;
}

/** One record to park, and why. */
export interface DeadLetter {
  readonly record: SourceRecord;
  readonly why: PoisonInfo;
}

/** A dead-letter produce that failed; `fatal`: retrying cannot help (authorization, too large, no topic). */
export class DeadLetterError extends Error {
  override readonly name = 'DeadLetterError';
  constructor(message: string, readonly fatal: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Where records the pipeline cannot handle are parked for an operator. */
export interface DeadLetterSink {
  /** Before the worker joins its group: the topic exists (or is created, when configured). Throws ConfigError when it cannot be used. */
  prepare(): Promise<void>;
  /**
   * Stores the records — one produce for a batch's records, split only where they exceed the
   * topic's max.message.bytes — and resolves once they are durable (acks from all in-sync
   * replicas). Throws DeadLetterError.
   */
  send(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

/** Header names on a dead-lettered record. */
export const DLQ_HEADERS = {
  topic: 'cdc-invalidator.source.topic',
  partition: 'cdc-invalidator.source.partition',
  offset: 'cdc-invalidator.source.offset',
  code: 'cdc-invalidator.error.code',
  message: 'cdc-invalidator.error.message',
  stack: 'cdc-invalidator.error.stack',
} as const;

export interface KafkaDeadLetterOptions {
  readonly topic: string;
  /** Create the topic when it does not exist (--dlq-create-partitions/--dlq-create-replication); absent: a missing topic is a start-up error. */
  readonly create?: { readonly partitions: number; readonly replicationFactor: number };
}

// kafkajs is CommonJS: Node sees only some of its exports as named ones.
const { ConfigResourceTypes, Partitioners } = kafkajs;

/** Kafka's default max.message.bytes (1 MiB + record-batch overhead), when the topic's cannot be read. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** How long a created dead-letter topic may take to have leaders before the start fails. */
const TOPIC_READY_TIMEOUT_MS = 30_000;
/** Room for the record batch's own framing in one produce request. */
const BATCH_OVERHEAD = 1_024;

/** The dead-letter message of a record: its key, value, headers and timestamp, plus the why. */
export function deadLetterMessage({ record, why }: DeadLetter): Message {
  const headers: NonNullable<Message['headers']> = {};
  for (const [k, v] of Object.entries(record.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? [...(v as (Buffer | string)[])] : (v as Buffer | string);
  headers[DLQ_HEADERS.topic] = record.topic;
  headers[DLQ_HEADERS.partition] = String(record.partition);
  headers[DLQ_HEADERS.offset] = record.offset;
  headers[DLQ_HEADERS.code] = why.code;
  headers[DLQ_HEADERS.message] = why.message.slice(0, 1_000);
  if (why.stack) headers[DLQ_HEADERS.stack] = why.stack.slice(0, 8_000);
  return { key: record.key, value: record.value, headers, ...(record.timestamp !== undefined ? { timestamp: record.timestamp } : {}) };
}

/** A generous estimate of a message's size in a record batch. */
function sizeOf(m: Message): number {
  let n = 32 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    for (const x of Array.isArray(v) ? v : [v]) n += 8 + Buffer.byteLength(k) + (x === undefined || x === null ? 0 : Buffer.byteLength(x));
  }
  return n;
}

/** Splits messages into runs that each fit in `limit` bytes (a message alone over it goes alone, and the broker says no). */
export function chunkBySize(messages: readonly Message[], limit: number): Message[][] {
  const out: Message[][] = [];
  let cur: Message[] = [];
  let bytes = BATCH_OVERHEAD;
  for (const m of messages) {
    const n = sizeOf(m);
    if (cur.length > 0 && bytes + n > limit) {
      out.push(cur);
      cur = [];
      bytes = BATCH_OVERHEAD;
    }
    cur.push(m);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * The dead-letter topic: the original key, value, headers (bytes, every value of a repeated
 * header) and timestamp, plus headers naming the source topic/partition/offset and the error.
 * The producer never creates the topic by accident (allowAutoTopicCreation is off); prepare()
 * checks it exists, or creates it with the stated partitions and replication.
 */
export class KafkaDeadLetter implements DeadLetterSink {
  readonly #producer: Producer;
  #connected: Promise<void> | undefined;
  #maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;

  constructor(private readonly kafka: Kafka, private readonly opts: KafkaDeadLetterOptions, private readonly logger: Logger) {
    this.#producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      // Set explicitly: kafkajs warns about its default partitioner on every start otherwise.
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 3, initialRetryTime: 200 },
    });
  }

  get topic(): string {
    return this.opts.topic;
  }

  async prepare(): Promise<void> {
    const { topic } = this.opts;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const exists = await this.#exists(admin);
      if (!exists) {
        const create = this.opts.create;
        if (!create) {
          throw new ConfigError(
            `--dlq-topic: the dead-letter topic "${topic}" does not exist; create it, or let the worker create it with --dlq-create-partitions N --dlq-create-replication R`,
          );
        }
        try {
          // Not kafkajs' waitForLeaders: it retries only LEADER_NOT_AVAILABLE, while a KRaft broker
          // can answer UNKNOWN_TOPIC_OR_PARTITION for a moment after the controller created the topic.
          await admin.createTopics({ topics: [{ topic, numPartitions: create.partitions, replicationFactor: create.replicationFactor }], waitForLeaders: false });
          await this.#waitForLeaders(admin, TOPIC_READY_TIMEOUT_MS);
        } catch (e) {
          if (classifyProduceError(e).type !== 'TOPIC_ALREADY_EXISTS') {
            throw new ConfigError(`--dlq-create-partitions: could not create the dead-letter topic "${topic}" (${create.partitions} partitions, replication ${create.replicationFactor}): ${(e as Error).message}`, { cause: e });
          }
        }
        this.logger.warn({ topic, partitions: create.partitions, replicationFactor: create.replicationFactor }, 'dead-letter topic created');
      }
      this.#maxMessageBytes = await this.#readMaxMessageBytes(admin);
    } finally {
      await admin.disconnect();
    }
  }

  /** Until every partition of the (just created) topic has a leader, at most `timeoutMs`. */
  async #waitForLeaders(admin: ReturnType<Kafka['admin']>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [this.opts.topic] });
        const partitions = topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      } catch (e) {
        const type = classifyProduceError(e).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw e;
      }
      if (Date.now() >= deadline) throw new Error(`created, but its partitions had no leader within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** Math.min(attempt, 5))));
    }
  }

  async #exists(admin: ReturnType<Kafka['admin']>): Promise<boolean> {
    try {
      await admin.fetchTopicMetadata({ topics: [this.opts.topic] });
      return true;
    } catch (e) {
      const failure = classifyProduceError(e);
      if (failure.type === 'UNKNOWN_TOPIC_OR_PARTITION') return false;
      if (failure.type === 'TOPIC_AUTHORIZATION_FAILED') throw new ConfigError(`--dlq-topic: not allowed to describe the dead-letter topic "${this.opts.topic}" (grant DESCRIBE and WRITE on it)`, { cause: e });
      throw e;
    }
  }

  async #readMaxMessageBytes(admin: ReturnType<Kafka['admin']>): Promise<number> {
    try {
      const { resources } = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: this.opts.topic, configNames: ['max.message.bytes'] }],
        includeSynonyms: false,
      });
      const value = Number(resources[0]?.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue);
      return Number.isSafeInteger(value) && value > 0 ? value : DEFAULT_MAX_MESSAGE_BYTES;
    } catch (e) {
      this.logger.debug({ err: e }, "could not read the dead-letter topic's max.message.bytes; assuming Kafka's default");
      return DEFAULT_MAX_MESSAGE_BYTES;
    }
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    try {
      this.#connected ??= this.#producer.connect().catch((e: unknown) => {
        this.#connected = undefined;
        throw e;
      });
      await this.#connected;
      for (const messages of chunkBySize(letters.map(deadLetterMessage), this.#maxMessageBytes)) {
        await this.#producer.send({ topic: this.opts.topic, acks: -1, messages });
      }
    } catch (e) {
      const failure = classifyProduceError(e);
      const what = `dead-letter produce to ${this.opts.topic} failed`;
      if (failure.fatal) throw new DeadLetterError(`${what} for good (${failure.type}): ${failure.hint}: ${(e as Error).message}`, true, { cause: e });
      throw new DeadLetterError(`${what}: ${(e as Error).message}`, false, { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#producer.disconnect();
  }
}
