/**
 * Which dead-letter produce failures retrying can fix. kafkajs wraps the broker's answer (a
 * KafkaJSProtocolError with a `type` and a `retriable` flag) in retry errors
 * (KafkaJSNumberOfRetriesExceeded, itself marked non-retriable whatever it wraps), so the chain of
 * causes is walked down to the broker's error.
 */

/** Broker answers that stop the worker: retrying the same produce cannot succeed. */
const FATAL_TYPES: Readonly<Record<string, string>> = {
  TOPIC_AUTHORIZATION_FAILED: 'the worker is not allowed to write to it (grant WRITE and DESCRIBE on the topic)',
  CLUSTER_AUTHORIZATION_FAILED: 'the worker is not authorized on the cluster',
  MESSAGE_TOO_LARGE: "a dead-letter record is larger than the topic accepts (raise the topic's max.message.bytes, or lower --max-record-bytes)",
  RECORD_LIST_TOO_LARGE: "the dead-letter records are larger than the topic accepts (raise the topic's max.message.bytes)",
  UNKNOWN_TOPIC_OR_PARTITION: 'the topic does not exist (deleted while the worker ran?)',
  INVALID_TOPIC_EXCEPTION: 'the topic name is not valid',
  INVALID_RECORD: 'the broker refused a record as invalid',
  INVALID_REQUIRED_ACKS: 'the broker refused acks=all',
};

export interface ProduceFailure {
  /** Retrying cannot help: stop the worker. */
  readonly fatal: boolean;
  /** The broker's error type (TOPIC_AUTHORIZATION_FAILED, …), when the broker answered. */
  readonly type?: string;
  /** What it means for an operator (fatal failures only). */
  readonly hint?: string;
}

interface KafkaJsLike {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
  readonly originalError?: unknown;
}

function chain(e: unknown): KafkaJsLike[] {
  const out: KafkaJsLike[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 10 && typeof cur === 'object' && cur !== null && !out.includes(cur); depth++) {
    const err = cur as KafkaJsLike;
    out.push(err);
    cur = err.cause ?? err.originalError;
  }
  return out;
}

/** Classifies a failed produce (kafkajs error) as fatal or retriable. */
export function classifyProduceError(e: unknown): ProduceFailure {
  const errors = chain(e);
  for (const err of errors) {
    if (typeof err.type === 'string') {
      const hint = FATAL_TYPES[err.type];
      if (hint) return { fatal: true, type: err.type, hint };
      return err.retriable === false ? { fatal: true, type: err.type, hint: 'the broker refused the produce for good' } : { fatal: false, type: err.type };
    }
  }
  if (errors.some((err) => err.name === 'KafkaJSSASLAuthenticationError')) return { fatal: true, type: 'SASL_AUTHENTICATION_FAILED', hint: 'the SASL credentials were refused' };
  return { fatal: false };
}
