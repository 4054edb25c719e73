import type { Kafka, Producer } from 'kafkajs';
import type { SourceRecord } from '../../domain/types.js';

/** Why a record was dead-lettered: a stable code and a human message. */
export interface PoisonInfo {
  readonly code: string;
  readonly message: string;
  /** For `internal` poison (a bug): the stack, kept in a header. */
  readonly stack?: string;
}

/** Where records the pipeline cannot handle are parked for an operator. */
export interface DeadLetterSink {
  /** Resolves once the record is durably stored (acks from all in-sync replicas). */
  send(record: SourceRecord, why: PoisonInfo): Promise<void>;
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

/**
 * The dead-letter topic: the original key, value and headers, plus headers naming the source
 * topic/partition/offset and the error. A failed send throws; the caller retries and commits
 * nothing past the record meanwhile.
 */
export class KafkaDeadLetter implements DeadLetterSink {
  readonly #producer: Producer;
  #connected: Promise<void> | undefined;

  constructor(kafka: Kafka, private readonly topic: string) {
    this.#producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: false, retry: { retries: 3, initialRetryTime: 200 } });
  }

  async send(record: SourceRecord, why: PoisonInfo): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((e: unknown) => {
      this.#connected = undefined;
      throw e;
    });
    await this.#connected;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(record.headers)) if (v !== undefined) headers[k] = v;
    headers[DLQ_HEADERS.topic] = record.topic;
    headers[DLQ_HEADERS.partition] = String(record.partition);
    headers[DLQ_HEADERS.offset] = record.offset;
    headers[DLQ_HEADERS.code] = why.code;
    headers[DLQ_HEADERS.message] = why.message.slice(0, 1_000);
    if (why.stack) headers[DLQ_HEADERS.stack] = why.stack.slice(0, 8_000);
    await this.#producer.send({ topic: this.topic, acks: -1, messages: [{ key: record.key, value: record.value, headers }] });
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#producer.disconnect();
  }
}
