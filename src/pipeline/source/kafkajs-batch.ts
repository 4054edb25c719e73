import type { EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import type { HeaderValue, RecordHeaders, SourceRecord } from '../../domain/types.js';
import type { SourceBatch } from './source.js';

/**
 * Kafka headers as they came: bytes, never decoded (a binary value must reach the dead-letter
 * topic byte for byte), and every value of a repeated header, in order.
 */
export function headerMap(headers: IHeaders | undefined): RecordHeaders {
  const out: Record<string, HeaderValue | readonly HeaderValue[] | undefined> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? [...(v as HeaderValue[])] : v;
  return out;
}

/**
 * A kafkajs eachBatch payload (or the part of its messages we keep) as our SourceBatch.
 * `onResolved` learns the offset kafkajs fetches next: past the offset handed back — or, when that
 * is the batch's last record, past the batch's trailing control records too (kafkajs resolves those).
 */
export function toSourceBatch(p: EachBatchPayload, messages: readonly KafkaMessage[], onResolved?: (next: bigint) => void): SourceBatch {
  const { topic, partition } = p.batch;
  const records: SourceRecord[] = messages.map((m) => ({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: headerMap(m.headers), timestamp: m.timestamp }));
  return {
    topic,
    partition,
    records,
    highWatermark: p.batch.highWatermark,
    ...(messages === p.batch.messages && messages.length > 0 ? { endOffset: p.batch.lastOffset() } : {}),
    heartbeat: () => p.heartbeat(),
    isActive: () => p.isRunning() && !p.isStale(),
    markFetched: (offset) => {
      p.resolveOffset(offset);
      if (!onResolved) return;
      const last = p.batch.messages[p.batch.messages.length - 1]?.offset;
      onResolved(BigInt(last === offset ? p.batch.lastOffset() : offset) + 1n);
    },
  };
}
