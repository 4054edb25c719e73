import avro from 'avsc';
import type protobuf from 'protobufjs';
import { jsonBuffer } from '../../util/json.js';
import type { Decoded, SourceRecord } from '../../domain/types.js';
import { decodeDebeziumJson } from './debezium-json.js';
import { DecodeError } from './errors.js';
import { decimalFromBase64 } from './logical-types.js';
import { isRegistryFramed, type RegistryClient, type RegistryDecoded } from './registry-client.js';

/**
 * Debezium change events written by a Schema Registry converter (Confluent's AvroConverter,
 * ProtobufConverter or JsonSchemaConverter) — key and value each framed as magic byte 0, schema id,
 * serialised bytes.
 *
 * The decoded value is rendered the way Kafka Connect's JSON converter would have written it
 * (decimals as their text, bytes as base64, int64 exact) with a minimal Connect schema (its name,
 * for heartbeats, transaction metadata and flattened rows; the `before` column defaults, for
 * REPLICA IDENTITY DEFAULT deletes) and handed to the JSON decoder. So the same change yields the
 * same ChangeEvent whatever the converter, and mappings work unchanged.
 */

const HEARTBEAT_TOPIC = '__debezium-heartbeat';
const VARIABLE_SCALE_DECIMAL = 'io.debezium.data.VariableScaleDecimal';
const CONFLUENT_DECIMAL = 'confluent.type.Decimal';

type Json = Record<string, unknown>;

function unionBranches(type: avro.Type): avro.Type[] {
  return (type as unknown as { types: avro.Type[] }).types;
}

/** An Avro value as the JSON converter writes it: bytes base64, records and maps as objects. */
function avroToJson(type: avro.Type, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (avro.Type.isType(type, 'union')) {
    // Unwrapped union: find the branch that holds the value.
    const branch = unionBranches(type).find((t) => !(t instanceof avro.types.NullType) && t.isValid(value));
    return branch ? avroToJson(branch, value) : value;
  }
  if (type instanceof avro.types.RecordType) {
    const rec = value as Json;
    if (type.name === VARIABLE_SCALE_DECIMAL && Buffer.isBuffer(rec['value'])) {
      return decimalFromBase64(rec['value'].toString('base64'), Number(rec['scale']) || 0);
    }
    const out: Json = {};
    for (const f of type.fields) out[f.name] = avroToJson(f.type, rec[f.name]);
    return out;
  }
  if (type instanceof avro.types.ArrayType) return (value as unknown[]).map((v) => avroToJson(type.itemsType, v));
  if (type instanceof avro.types.MapType) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value as Json)) out[k] = avroToJson(type.valuesType as avro.Type, v); // avsc types valuesType as any
    return out;
  }
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return value;
}

/** The record type of a `["null", Record]` envelope field (`before`), if any. */
function rowType(envelope: avro.Type, field: string): avro.types.RecordType | undefined {
  if (!(envelope instanceof avro.types.RecordType)) return undefined;
  let t: avro.Type | undefined = envelope.field(field)?.type;
  if (t && avro.Type.isType(t, 'union')) t = unionBranches(t).find((b) => b instanceof avro.types.RecordType);
  return t instanceof avro.types.RecordType ? t : undefined;
}

const CONNECT_TYPES: Readonly<Record<string, string>> = { string: 'string', int: 'int32', long: 'int64', boolean: 'boolean', float: 'float32', double: 'float64', bytes: 'bytes', fixed: 'bytes', enum: 'string', record: 'struct', array: 'array', map: 'map' };

/** A column's Connect type, nullability and logical name, from its Avro type (Debezium's AvroConverter writes `connect.*` attributes). */
function connectField(name: string, type: avro.Type): Json {
  let t = type;
  let optional = false;
  if (avro.Type.isType(t, 'union')) {
    const branches = unionBranches(t);
    optional = branches.some((b) => b instanceof avro.types.NullType);
    t = branches.find((b) => !(b instanceof avro.types.NullType)) ?? t;
  }
  const attrs = t.schema({ exportAttrs: true }) as unknown;
  const a = typeof attrs === 'object' && attrs !== null ? (attrs as Json) : { type: attrs };
  const base = typeof a['type'] === 'string' ? a['type'] : t.typeName;
  const connectType = typeof a['connect.type'] === 'string' ? a['connect.type'] : (CONNECT_TYPES[base] ?? base);
  const logical = typeof a['connect.name'] === 'string' ? a['connect.name'] : typeof a['logicalType'] === 'string' ? a['logicalType'] : undefined;
  return { field: name, type: connectType, optional, ...(logical ? { name: logical } : {}) };
}

/**
 * A minimal Connect schema: the record's name, and the `before` columns' types, nullability and
 * non-null defaults (what the REPLICA IDENTITY DEFAULT check reads, as it reads the JSON converter's).
 */
function connectSchema(type: avro.Type): Json {
  const schema: Json = { type: 'struct', name: type.name };
  const before = rowType(type, 'before');
  if (before) {
    const fields: Json[] = [];
    for (const f of before.fields) {
      const d: unknown = f.defaultValue();
      fields.push({ ...connectField(f.name, f.type), ...(d === undefined || d === null ? {} : { default: avroToJson(f.type, d) }) });
    }
    schema['fields'] = [{ field: 'before', type: 'struct', fields }];
  }
  return schema;
}

const LONGS = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function exactLong(v: unknown): unknown {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : BigInt(v);
}

/** A Protobuf message (toObject with longs/bytes as strings) as the JSON converter writes it. */
function protoToJson(type: protobuf.Type, obj: Json): Json | string {
  if (type.fullName.replace(/^\./, '') === CONFLUENT_DECIMAL && typeof obj['value'] === 'string') {
    return decimalFromBase64(obj['value'], Number(obj['scale']) || 0);
  }
  const out: Json = {};
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined || v === null) {
      out[field.name] = null;
      continue;
    }
    const nested = field.resolvedType;
    const convert = (x: unknown): unknown =>
      nested && 'fieldsArray' in nested ? protoToJson(nested, x as Json) : LONGS.has(field.type) ? exactLong(x) : x;
    out[field.name] = Array.isArray(v) ? v.map(convert) : convert(v);
  }
  return out;
}

/** The JSON-converter twin of a registry-decoded key or value: `{schema, payload}` or the bare JSON. */
function jsonTwin(decoded: RegistryDecoded): Buffer | null {
  switch (decoded.schemaType) {
    case 'AVRO': {
      const type = decoded.schema as avro.Type;
      return jsonBuffer({ schema: connectSchema(type), payload: avroToJson(type, decoded.value) });
    }
    case 'PROTOBUF': {
      const type = decoded.schema as protobuf.Type;
      const obj = type.toObject(decoded.value as protobuf.Message, { longs: String, enums: String, bytes: String, defaults: false, oneofs: false });
      return jsonBuffer(protoToJson(type, obj));
    }
    case 'JSON':
      // The JsonSchemaConverter writes the bare JSON; the library has validated it against its schema.
      return decoded.payload;
  }
}

/** Decodes a record whose value (and, when framed, key) come through the Schema Registry. */
export async function decodeRegistryRecord(record: SourceRecord, registry: RegistryClient): Promise<Decoded> {
  if (record.value === null || record.value.length === 0) return { kind: 'skip', reason: 'tombstone' };
  if (record.topic.startsWith(HEARTBEAT_TOPIC)) return { kind: 'skip', reason: 'heartbeat' };
  const value = jsonTwin(await registry.decode(record.value, 'value'));
  let key = record.key;
  if (isRegistryFramed(key)) {
    try {
      const k = await registry.decode(key, 'key');
      const twin = jsonTwin(k);
      key = k.schemaType === 'AVRO' ? jsonBuffer(avroToJson(k.schema as avro.Type, k.value)) : twin;
    } catch (e) {
      // As on the JSON path, an unreadable key only means the key columns are unknown.
      if (!(e instanceof DecodeError)) throw e;
      key = null;
    }
  }
  return decodeDebeziumJson({ ...record, key, value });
}
