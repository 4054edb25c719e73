import type { EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import type { SourceRecord } from '../../domain/types.js';
import type { SourceBatch } from './source.js';

/** Kafka headers as text (Connect's default header converter writes strings). */
export function headerMap(headers: IHeaders | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = first === undefined ? undefined : Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  }
  return out;
}

/** A kafkajs eachBatch payload (or the part of its messages we keep) as our SourceBatch. */
export function toSourceBatch(p: EachBatchPayload, messages: readonly KafkaMessage[]): SourceBatch {
  const { topic, partition } = p.batch;
  const records: SourceRecord[] = messages.map((m) => ({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: headerMap(m.headers) }));
  return {
    topic,
    partition,
    records,
    highWatermark: p.batch.highWatermark,
    heartbeat: () => p.heartbeat(),
    isActive: () => p.isRunning() && !p.isStale(),
    markFetched: (offset) => p.resolveOffset(offset),
  };
}
