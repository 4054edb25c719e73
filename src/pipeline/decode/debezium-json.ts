import { isUnsafeInteger, parseJsonExact } from '../../util/json.js';
import type { ChangeEvent, ChangeOp, Decoded, ReplicaIdentityKind, RowImage, SourceRecord } from '../../domain/types.js';
import { DecodeError } from './errors.js';
import { bytesAt, skipValue } from './json-scan.js';
import { convertRow, envelopeFieldSchema, structConverters } from './logical-types.js';

const OPS: ReadonlySet<string> = new Set<ChangeOp>(['c', 'u', 'd', 'r', 't']);
const HEARTBEAT_TOPIC = '__debezium-heartbeat';
const HEARTBEAT_SCHEMA = 'io.debezium.connector.common.Heartbeat';
const TRANSACTION_SCHEMA = 'io.debezium.connector.common.TransactionMetadataValue';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON converter wraps a value as {schema, payload} when schemas.enable=true. */
interface Unwrapped {
  readonly payload: unknown;
  readonly schema: unknown;
  readonly schemaName: string | undefined;
}

function unwrapSchema(doc: unknown): Unwrapped {
  if (isObject(doc) && 'payload' in doc && 'schema' in doc && Object.keys(doc).length === 2) {
    const schema = doc['schema'];
    const name = isObject(schema) && typeof schema['name'] === 'string' ? schema['name'] : undefined;
    return { payload: doc['payload'], schema, schemaName: name };
  }
  return { payload: doc, schema: undefined, schemaName: undefined };
}

function parse(text: string, what: string, exact = false): unknown {
  try {
    return exact ? parseJsonExact(text) : JSON.parse(text);
  } catch (e) {
    // V8 quotes the start of the input ('Unexpected token, "…" is not valid JSON'): row data, kept out of logs.
    const reason = (e as Error).message.replace(/,? ?"[\s\S]*"(\.\.\.)? is not valid JSON$/, '');
    throw new DecodeError('invalid_json', `${what} is not valid JSON: ${reason}`);
  }
}

/** True when a row image holds an integer JSON.parse rounded (an int64 id beyond 2^53). */
function lostPrecision(image: unknown): boolean {
  if (!isObject(image)) return false;
  for (const k in image) if (isUnsafeInteger(image[k])) return true;
  return false;
}

/**
 * Debezium's envelope carries ts_us/ts_ns beyond 2^53 in every event, so the fast JSON.parse is
 * tried first and the exact (slower) parse runs only when a row column or key lost precision.
 */
function parseWhole(buf: Buffer, what: string): Unwrapped {
  const text = buf.toString('utf8');
  const fast = unwrapSchema(parse(text, what));
  const p = fast.payload;
  if (isObject(p) && (lostPrecision(p['before']) || lostPrecision(p['after']))) {
    return unwrapSchema(parse(text, what, true));
  }
  return fast;
}

/** What the decoder reads from a Connect schema (of the JSON converter's {schema, payload} wrapper). */
interface SchemaView {
  /** The schema as parsed (for the flattened-row path). */
  readonly schema: unknown;
  readonly schemaName: string | undefined;
  readonly before: Converters;
  readonly after: Converters;
  /** The `before` row struct schema (its defaults matter for a key-only delete image). */
  readonly beforeSchema: unknown;
  /** The same from an exact parse (int64 defaults as bigint), made when an exact payload first needs it. */
  exact?: { readonly beforeSchema: unknown };
  /** The schema's JSON text, for the exact parse. */
  readonly text: string;
}

type Converters = ReturnType<typeof structConverters>;

function schemaView(schema: unknown, text: string): SchemaView {
  const name = isObject(schema) && typeof schema['name'] === 'string' ? schema['name'] : undefined;
  return {
    schema,
    schemaName: name,
    before: structConverters(envelopeFieldSchema(schema, 'before')),
    after: structConverters(envelopeFieldSchema(schema, 'after')),
    beforeSchema: envelopeFieldSchema(schema, 'before'),
    text,
  };
}

const SCHEMA_OPEN = Buffer.from('{"schema":');
const PAYLOAD_MEMBER = Buffer.from(',"payload":');
const CLOSE_BRACE = 0x7d;

/**
 * The Connect schema last seen per topic, as bytes and as what the decoder reads from it: the
 * JSON converter repeats the same block (~3 KB for a table) in every record of a schema-enabled
 * topic, so a record whose block is byte-equal to the cached one parses only its payload. Bounded:
 * past `maxTopics` topics it starts over.
 */
export class SchemaCache {
  readonly #byTopic = new Map<string, { readonly bytes: Buffer; readonly view: SchemaView }>();
  constructor(private readonly maxTopics = 1024) {}

  /** The schema block of `buf` (it starts at byte 10, after `{"schema":`): where it ends and its view; undefined when not in the converter's shape. */
  locate(topic: string, buf: Buffer): { end: number; view: SchemaView } | undefined {
    const cached = this.#byTopic.get(topic);
    if (cached && bytesAt(buf, SCHEMA_OPEN.length, cached.bytes)) {
      return { end: SCHEMA_OPEN.length + cached.bytes.length, view: cached.view };
    }
    const end = skipValue(buf, SCHEMA_OPEN.length);
    if (end < 0 || !bytesAt(buf, end, PAYLOAD_MEMBER)) return undefined;
    const text = buf.toString('utf8', SCHEMA_OPEN.length, end);
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch {
      return undefined; // the whole-document parse reports it
    }
    const view = schemaView(schema, text);
    if (this.#byTopic.size >= this.maxTopics) this.#byTopic.clear();
    this.#byTopic.set(topic, { bytes: Buffer.from(buf.subarray(SCHEMA_OPEN.length, end)), view });
    return { end, view };
  }
}

interface Envelope {
  readonly payload: unknown;
  readonly view: SchemaView | undefined;
  /** The payload alone came from the exact parse (int64 beyond 2^53 kept as bigint); the view's schema did not. */
  readonly exact: boolean;
}

/**
 * A value in the JSON converter's {"schema":…,"payload":…} shape: only the payload is parsed, the
 * schema block is located in the bytes (and, when byte-equal to the topic's last one, not parsed
 * at all). Anything else, or anything this does not recognise, goes through parseWhole, which gives
 * the same result and the same errors.
 */
function parseEnvelope(record: SourceRecord, buf: Buffer, schemas: SchemaCache | undefined): Envelope {
  if (bytesAt(buf, 0, SCHEMA_OPEN)) {
    const located = (schemas ?? new SchemaCache(1)).locate(record.topic, buf);
    let last = buf.length - 1;
    while (last > 0 && (buf[last] === 0x20 || buf[last] === 0x0a || buf[last] === 0x0d || buf[last] === 0x09)) last--;
    if (located && buf[last] === CLOSE_BRACE) {
      const text = buf.toString('utf8', located.end + PAYLOAD_MEMBER.length, last);
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        payload = undefined; // not the two-member wrapper after all (or invalid): the whole-document path decides
      }
      if (payload !== undefined) {
        if (isObject(payload) && (lostPrecision(payload['before']) || lostPrecision(payload['after']))) {
          return { payload: parseJsonExact(text), view: located.view, exact: true };
        }
        return { payload, view: located.view, exact: false };
      }
    }
  }
  // Not the wrapper, or not recognised: the whole document, its schema (if any) parsed with it.
  const whole = parseWhole(buf, 'value');
  return { payload: whole.payload, view: whole.schema === undefined ? undefined : schemaView(whole.schema, ''), exact: false };
}

/** The `before` row schema as the payload's parse saw numbers: exact (int64 as bigint) when the payload was parsed exactly. */
function beforeRowSchema(env: Envelope): unknown {
  const view = env.view;
  if (!view) return undefined;
  if (!env.exact) return view.beforeSchema;
  view.exact ??= { beforeSchema: envelopeFieldSchema(parseJsonExact(view.text), 'before') };
  return view.exact.beforeSchema;
}

/** `prefix.schema.table` → `schema.table` (Debezium's topic naming). */
export function tableFromTopic(topic: string): string | undefined {
  const parts = topic.split('.');
  if (parts.length < 3) return undefined;
  return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
}

function rowImage(v: unknown, field: string): RowImage | null {
  if (v === null || v === undefined) return null;
  if (!isObject(v)) throw new DecodeError('invalid_row_image', `"${field}" must be an object or null`);
  return v;
}

/** The column names of a record key (`{"id":1}` or its with-schema form); null when unknown. */
function keyColumnsOf(key: Buffer | null): string[] | null {
  if (key === null || key.length === 0) return null;
  let payload: unknown;
  try {
    payload = unwrapSchema(JSON.parse(key.toString('utf8'))).payload; // only the column names are used
  } catch {
    return null; // a non-JSON key (another converter) just means we cannot tell the key columns
  }
  return isObject(payload) ? Object.keys(payload) : null;
}

/** Values Debezium may put into the non-key columns of a REPLICA IDENTITY DEFAULT delete, when the schema is unknown. */
function isPlaceholderValue(v: unknown): boolean {
  return v === null || v === '' || v === 0 || v === false || v === 0n;
}

/** One column of a Connect row schema, as far as the key-only check needs it. */
interface ColumnSchema {
  readonly optional: boolean;
  readonly type: string | undefined;
  /** A Connect logical type (Decimal, Timestamp…): its value was converted, so compare loosely. */
  readonly logical: boolean;
  readonly hasDefault: boolean;
  readonly default: unknown;
}

/** The columns of a row struct schema; undefined unless every field states its type. */
function rowColumns(rowSchema: unknown): Map<string, ColumnSchema> | undefined {
  if (!isObject(rowSchema) || !Array.isArray(rowSchema['fields'])) return undefined;
  const out = new Map<string, ColumnSchema>();
  for (const f of rowSchema['fields'] as unknown[]) {
    if (!isObject(f) || typeof f['field'] !== 'string' || typeof f['type'] !== 'string') return undefined;
    out.set(f['field'], { optional: f['optional'] === true, type: f['type'], logical: typeof f['name'] === 'string', hasDefault: 'default' in f, default: f['default'] });
  }
  return out;
}

/** Column defaults only (the Avro path's minimal schema carries `field` and `default`, not types). */
function schemaDefaults(rowSchema: unknown): Map<string, unknown> | undefined {
  if (!isObject(rowSchema) || !Array.isArray(rowSchema['fields'])) return undefined;
  let out: Map<string, unknown> | undefined;
  for (const f of rowSchema['fields'] as unknown[]) {
    if (isObject(f) && typeof f['field'] === 'string' && 'default' in f) (out ??= new Map()).set(f['field'], f['default']);
  }
  return out;
}

/** The empty value of a Connect type, as the JSON converter writes it (bytes as base64). */
function emptyOf(type: string | undefined): unknown {
  switch (type) {
    case 'string':
    case 'bytes':
      return '';
    case 'boolean':
      return false;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
    case 'float32':
    case 'float64':
      return 0;
    default:
      return undefined;
  }
}

/** The value Debezium writes into a column of a REPLICA IDENTITY DEFAULT delete, given its schema. */
function isPlaceholderFor(column: ColumnSchema, v: unknown): boolean {
  if (column.optional) return v === null; // nullable columns are null
  if (column.logical) return isPlaceholderValue(v) || (column.hasDefault && v === column.default); // converted: compare loosely
  if (column.hasDefault) return v === column.default || (typeof v === 'bigint' && typeof column.default === 'number' && Number.isSafeInteger(column.default) && BigInt(column.default) === v);
  const empty = emptyOf(column.type);
  return empty === undefined ? isPlaceholderValue(v) : v === empty || (empty === 0 && v === 0n);
}

/**
 * Whether a `before` image could be a REPLICA IDENTITY DEFAULT delete's: the key columns are real and
 * every other column holds what Debezium writes there — a nullable column null, a NOT NULL column its
 * declared DEFAULT, else its type's empty value (`""`, `0`, `false`). With the row schema each column is
 * checked against its own placeholder (`schemaKnown`: a false is then certain); without it, any of
 * null, `""`, `0`, `false` passes. A FULL row whose non-key columns happen to be exactly those values
 * looks the same: the table's identity decides (src/mapping/replica-identity.ts).
 */
function looksKeyOnly(image: RowImage | null, keyColumns: readonly string[] | null, rowSchema: unknown): { looks: boolean; schemaKnown: boolean } {
  const columns = rowColumns(rowSchema);
  const schemaKnown = columns !== undefined;
  if (image === null || keyColumns === null || keyColumns.length === 0) return { looks: false, schemaKnown };
  const defaults = columns ? undefined : schemaDefaults(rowSchema);
  const keys = new Set(keyColumns);
  let nonKey = 0;
  for (const [name, value] of Object.entries(image)) {
    if (keys.has(name)) continue;
    nonKey++;
    const column = columns?.get(name);
    const placeholder = column ? isPlaceholderFor(column, value) : isPlaceholderValue(value) || (defaults?.has(name) === true && defaults.get(name) === value);
    if (!placeholder) return { looks: false, schemaKnown };
  }
  return { looks: nonKey > 0, schemaKnown };
}

/**
 * Decodes one record written by Kafka Connect's JSON converter (with or without schemas).
 * Returns a change event, or a skip for tombstones, heartbeats, transaction metadata and
 * logical messages; throws DecodeError for anything else. With a SchemaCache, a schema block
 * byte-equal to the topic's previous one is neither parsed nor turned into converters again.
 */
export function decodeDebeziumJson(record: SourceRecord, schemas?: SchemaCache): Decoded {
  if (record.value === null || record.value.length === 0) return { kind: 'skip', reason: 'tombstone' };
  if (record.topic.startsWith(HEARTBEAT_TOPIC)) return { kind: 'skip', reason: 'heartbeat' };

  const envelope = parseEnvelope(record, record.value, schemas);
  const { payload, view } = envelope;
  const schemaName = view?.schemaName;
  if (schemaName === HEARTBEAT_SCHEMA) return { kind: 'skip', reason: 'heartbeat' };
  if (schemaName === TRANSACTION_SCHEMA) return { kind: 'skip', reason: 'transaction' };
  if (payload === null) return { kind: 'skip', reason: 'tombstone' };
  if (!isObject(payload)) throw new DecodeError('invalid_envelope', 'value is not a JSON object');

  if (!('op' in payload)) {
    const status = payload['status'];
    if ((status === 'BEGIN' || status === 'END') && 'id' in payload) return { kind: 'skip', reason: 'transaction' };
    if (isFlattened(payload, schemaName)) return decodeFlattened(record, payload, view?.schema);
    throw new DecodeError(
      'invalid_envelope',
      'value has no "op" field: not a Debezium change event (rows flattened by ExtractNewRecordState need add.fields=op,table or delete.handling.mode=rewrite)',
    );
  }
  const op = payload['op'];
  if (op === 'm') return { kind: 'skip', reason: 'message' };
  if (typeof op !== 'string' || !OPS.has(op)) {
    throw new DecodeError('unknown_op', `unknown op ${JSON.stringify(op)} (expected one of c, u, d, r, t)`);
  }

  const source = payload['source'];
  let table: string | undefined;
  if (isObject(source) && typeof source['table'] === 'string' && typeof source['schema'] === 'string') {
    table = `${source['schema']}.${source['table']}`;
  } else {
    table = tableFromTopic(record.topic);
  }
  if (table === undefined) {
    throw new DecodeError('missing_source', 'no source.schema/source.table and the topic is not <prefix>.<schema>.<table>');
  }

  const before = convertRow(rowImage(payload['before'], 'before'), view?.before);
  const after = convertRow(rowImage(payload['after'], 'after'), view?.after);
  if (op !== 't') {
    if ((op === 'c' || op === 'r') && after === null) throw new DecodeError('invalid_row_image', `op "${op}" without an "after" image`);
    if (op === 'd' && before === null) throw new DecodeError('invalid_row_image', 'op "d" without a "before" image');
    if (op === 'u' && after === null) throw new DecodeError('invalid_row_image', 'op "u" without an "after" image');
  }
  const tsMs = isObject(source) && typeof source['ts_ms'] === 'number' ? source['ts_ms'] : undefined;
  // An update tells the table's identity: without a before image it is DEFAULT (or NOTHING, USING INDEX), with one FULL.
  const hint: ReplicaIdentityKind | undefined = op === 'u' ? (before === null ? 'default' : 'full') : undefined;
  const event = changeEvent(record, op as ChangeOp, table, before, after, beforeRowSchema(envelope), hint);
  if (tsMs !== undefined) (event as { sourceTsMs?: number }).sourceTsMs = tsMs; // set on the fresh object: no copy per record
  return { kind: 'change', event };
}

/** A decoder with its own schema cache (one per worker, replay or tap): what createDecoder hands out for JSON. */
export function createDebeziumJsonDecoder(schemas = new SchemaCache()): (record: SourceRecord) => Decoded {
  return (record) => decodeDebeziumJson(record, schemas);
}

function changeEvent(
  record: SourceRecord,
  op: ChangeOp,
  table: string,
  before: RowImage | null,
  after: RowImage | null,
  beforeSchema: unknown,
  identityHint?: ReplicaIdentityKind,
): ChangeEvent {
  const keyColumns = keyColumnsOf(record.key);
  const shape = op === 'd' ? looksKeyOnly(before, keyColumns, beforeSchema) : { looks: false, schemaKnown: rowColumns(beforeSchema) !== undefined };
  return {
    op,
    table,
    before,
    after,
    keyColumns,
    beforeLooksKeyOnly: shape.looks,
    beforeSchemaKnown: shape.schemaKnown,
    ...(identityHint ? { identityHint } : {}),
  };
}

/**
 * The ExtractNewRecordState ("unwrap") SMT's output: the row itself, with `__op`, `__deleted`,
 * `__table`, `__schema`… when add.fields / delete.handling.mode=rewrite asked for them. To tell
 * such a row from a malformed envelope, it must carry one of those fields, or (with schemas) a
 * row schema named `<prefix>.<schema>.<table>.Value`.
 */
function isFlattened(payload: Json, schemaName: string | undefined): boolean {
  if ('before' in payload || 'after' in payload || 'source' in payload) return false;
  if (schemaName?.endsWith('.Value')) return true;
  return Object.keys(payload).some((k) => k === '__op' || k === '__deleted' || k === '__table');
}

function decodeFlattened(record: SourceRecord, payload: Json, schema: unknown): Decoded {
  const row: Json = {};
  for (const [k, v] of Object.entries(payload)) if (!k.startsWith('__')) row[k] = v;
  const converted = convertRow(row, structConverters(schema)) ?? row;
  const rawOp = payload['__op'];
  const deleted = payload['__deleted'] === 'true' || payload['__deleted'] === true;
  let op: ChangeOp;
  if (typeof rawOp === 'string' && OPS.has(rawOp)) op = rawOp as ChangeOp;
  else if (rawOp !== undefined) throw new DecodeError('unknown_op', `unknown __op ${JSON.stringify(rawOp)} (expected one of c, u, d, r, t)`);
  else op = deleted ? 'd' : 'u'; // without __op a row is an upsert: invalidate what it names
  const fromTopic = tableFromTopic(record.topic);
  const tableName = typeof payload['__table'] === 'string' ? payload['__table'] : undefined;
  const schemaName = typeof payload['__schema'] === 'string' ? payload['__schema'] : fromTopic?.split('.')[0];
  const table = tableName !== undefined && schemaName !== undefined ? `${schemaName}.${tableName}` : fromTopic;
  if (table === undefined) {
    throw new DecodeError('missing_source', 'flattened row without __table, and the topic is not <prefix>.<schema>.<table>');
  }
  const isDelete = op === 'd' || deleted;
  const tsMs = typeof payload['__source_ts_ms'] === 'number' ? payload['__source_ts_ms'] : undefined;
  if (tsMs !== undefined) {
    const event = changeEvent(record, isDelete ? 'd' : op, table, isDelete ? converted : null, isDelete ? null : converted, schema);
    return { kind: 'change', event: { ...event, sourceTsMs: tsMs } };
  }
  return { kind: 'change', event: changeEvent(record, isDelete ? 'd' : op, table, isDelete ? converted : null, isDelete ? null : converted, schema) };
}
