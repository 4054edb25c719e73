import { parse as parseLossless } from 'lossless-json';
import { jsonBuffer } from '../util/json.js';
import type { SourceRecord } from '../domain/types.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface RecordDefaults {
  /** Topic for a bare value (a record file's own topic wins). */
  readonly topic: string;
  /** Record key for a bare value (JSON text or a JSON value); a record file's own key wins. */
  readonly key?: unknown;
}

/**
 * A file's text as the Kafka record it stands for: either one record `{topic, key, value, headers}`
 * (the shape `kcat -J` and test/fixtures/debezium use), or a bare record value. Text that is not JSON
 * becomes the value as is, so the decoder reports it the way the worker would.
 */
export function recordFromText(text: string, defaults: RecordDefaults): SourceRecord {
  const bare = (): SourceRecord => ({ topic: defaults.topic, partition: 0, offset: '0', key: jsonBuffer(defaults.key), value: Buffer.from(text), headers: {} });
  let doc: unknown;
  try {
    doc = parseLossless(text); // keeps int64 literals exact through the re-serialisation below
  } catch {
    return bare();
  }
  if (isObject(doc) && 'value' in doc && ('topic' in doc || 'key' in doc) && !('op' in doc) && !('payload' in doc)) {
    const headers: Record<string, string> = {};
    if (isObject(doc['headers'])) for (const [k, v] of Object.entries(doc['headers'])) if (typeof v === 'string') headers[k] = v;
    return {
      topic: typeof doc['topic'] === 'string' ? doc['topic'] : defaults.topic,
      partition: 0,
      offset: '0',
      key: 'key' in doc ? jsonBuffer(doc['key']) : jsonBuffer(defaults.key),
      value: jsonBuffer(doc['value']),
      headers,
    };
  }
  return bare();
}
