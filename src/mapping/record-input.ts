import { parse as parseLossless } from 'lossless-json';
import { jsonBuffer } from '../util/json.js';
import type { SourceRecord } from '../domain/types.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** lossless-json's message for a key repeated with another value in one object. */
const DUPLICATE_KEY = /^Duplicate key '(.*)' encountered at position (\d+)/;

/**
 * A JSON object that names one key twice with different values: JSON.parse (and so the worker)
 * would keep the last, which is rarely what the file meant; reported rather than guessed.
 */
export class DuplicateKeyError extends Error {
  override readonly name = 'DuplicateKeyError';
  readonly code = 'duplicate_key';
  constructor(readonly key: string, readonly at: { line: number; col: number }) {
    super(`line ${at.line}, column ${at.col}: duplicate key "${key}" (the object names it twice with different values; remove one)`);
  }
}

function lineColAt(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: (before.match(/\n/g)?.length ?? 0) + 1, col: offset - nl };
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
 * becomes the value as is, so the decoder reports it the way the worker would. A key repeated with
 * another value throws DuplicateKeyError.
 */
export function recordFromText(text: string, defaults: RecordDefaults): SourceRecord {
  const bare = (): SourceRecord => ({ topic: defaults.topic, partition: 0, offset: '0', key: jsonBuffer(defaults.key), value: Buffer.from(text), headers: {} });
  let doc: unknown;
  try {
    doc = parseLossless(text); // keeps int64 literals exact through the re-serialisation below
  } catch (e) {
    const dup = DUPLICATE_KEY.exec((e as Error).message);
    if (dup) {
      const at = Number(dup[2]); // the key's first character: point at its opening quote
      throw new DuplicateKeyError(dup[1]!, lineColAt(text, text[at - 1] === '"' ? at - 1 : at));
    }
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
