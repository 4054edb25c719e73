import { readFile } from 'node:fs/promises';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { evaluate } from '../mapping/evaluate.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import { decodeDebeziumJson } from '../pipeline/decode/debezium-json.js';
import type { SourceRecord } from '../pipeline/types.js';

export interface ExplainLine {
  readonly file: string;
  readonly result: 'event' | 'skip' | 'error';
  readonly [field: string]: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A file holds one Kafka record value as JSON, or a record `{topic, key, value, headers}`
 * (the shape `kcat -J` and our fixtures use), so the key and topic can be given too.
 */
function recordFromFile(text: string, topic: string): SourceRecord {
  let doc: unknown;
  try {
    doc = parseLossless(text); // keeps int64 literals exact through the re-serialisation below
  } catch {
    return { topic, partition: 0, offset: '0', key: null, value: Buffer.from(text), headers: {} };
  }
  if (isObject(doc) && 'value' in doc && ('topic' in doc || 'key' in doc) && !('op' in doc) && !('payload' in doc)) {
    const key = doc['key'];
    const value = doc['value'];
    return {
      topic: typeof doc['topic'] === 'string' ? doc['topic'] : topic,
      partition: 0,
      offset: '0',
      key: key === null || key === undefined ? null : Buffer.from(typeof key === 'string' ? key : (stringifyLossless(key) ?? '')),
      value: value === null ? null : Buffer.from(typeof value === 'string' ? value : (stringifyLossless(value) ?? '')),
      headers: {},
    };
  }
  return { topic, partition: 0, offset: '0', key: null, value: Buffer.from(text), headers: {} };
}

/** Decodes and maps each file without Kafka or Redis: one JSON line per file. */
export async function explainFiles(files: readonly string[], mappings: MappingSet, topic = 'explain'): Promise<ExplainLine[]> {
  const out: ExplainLine[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      out.push({ file, result: 'error', error: `cannot read: ${(e as Error).message}` });
      continue;
    }
    try {
      const decoded = decodeDebeziumJson(recordFromFile(text, topic));
      if (decoded.kind === 'skip') {
        out.push({ file, result: 'skip', reason: decoded.reason });
        continue;
      }
      const { event } = decoded;
      const plan = evaluate(event, mappings);
      out.push({
        file,
        result: 'event',
        table: event.table,
        op: event.op,
        mappings: plan.mappings,
        keys: plan.keys,
        skipped: plan.skipped,
        ...(plan.mappings.length === 0 ? { note: `no mapping names table ${event.table}` } : {}),
      });
    } catch (e) {
      const err = e as Error & { code?: string };
      out.push({ file, result: 'error', error: err.message, ...(err.code ? { code: err.code } : {}) });
    }
  }
  return out;
}
