import type { DecoderConfig } from '../../config/schema-registry.js';
import type { Decoded, RecordDecoder, SourceRecord } from '../../domain/types.js';
import { decodeRegistryRecord } from './debezium-avro.js';
import { createDebeziumJsonDecoder } from './debezium-json.js';
import { DecodeError } from './errors.js';
import { isRegistryFramed, RegistryClient, schemaIdOf } from './registry-client.js';

/** What the worker calls per record: synchronous for JSON, a promise when the registry is involved. */
export type { RecordDecoder };

/** JSON decoding that says so when a value it cannot read looks registry-framed. */
function jsonWithHint(decodeJson: (record: SourceRecord) => Decoded, record: SourceRecord): Decoded {
  try {
    return decodeJson(record);
  } catch (e) {
    if (e instanceof DecodeError && isRegistryFramed(record.value)) {
      throw new DecodeError(e.code, `${e.message} (the value looks Schema Registry framed, schema id ${schemaIdOf(record.value)}: give --schema-registry)`);
    }
    throw e;
  }
}

/**
 * The decoder for `--format` (used by run, replay, tap and explain):
 * - `json`: Kafka Connect's JSON converter only;
 * - `avro`: every value through the Schema Registry (Avro, Protobuf or JSON Schema, as its schema says);
 * - `auto`: a value starting with magic byte 0 (never the start of JSON text) through the registry
 *   when one is configured, anything else as JSON.
 */
export function createDecoder(config: DecoderConfig, registry?: RegistryClient): RecordDecoder {
  const decodeJson = createDebeziumJsonDecoder();
  if (config.format === 'json') return decodeJson;
  const client = registry ?? (config.schemaRegistry ? new RegistryClient(config.schemaRegistry) : undefined);
  if (config.format === 'avro') {
    if (!client) throw new Error('--format avro needs a Schema Registry');
    return (record) => decodeRegistryRecord(record, client);
  }
  if (!client) return (record) => jsonWithHint(decodeJson, record);
  return (record) => (isRegistryFramed(record.value) ? decodeRegistryRecord(record, client) : decodeJson(record));
}
