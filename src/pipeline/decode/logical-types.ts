/**
 * Kafka Connect logical types in the JSON converter's schema, rendered the way a key template
 * should see them. Only decimals change: Connect writes them as base64 two's-complement bytes.
 * Everything else keeps the converter's value (timestamps as epoch numbers, dates as days since
 * the epoch, UUIDs and JSON as text) — see the README's mapping reference.
 */
type Json = Record<string, unknown>;
type Converter = (value: unknown) => unknown;

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
const VARIABLE_SCALE_DECIMAL = 'io.debezium.data.VariableScaleDecimal';

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** base64 big-endian two's complement unscaled value + scale → decimal text ("1234.50"). */
export function decimalFromBase64(b64: string, scale: number): string {
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length === 0) return '0';
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  if (bytes[0]! & 0x80) n -= 1n << BigInt(bytes.length * 8);
  const negative = n < 0n;
  let digits = (negative ? -n : n).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  } else if (scale < 0) {
    digits += '0'.repeat(-scale);
  }
  return negative ? `-${digits}` : digits;
}

function converterFor(field: Json): Converter | undefined {
  const name = field['name'];
  if (name === DECIMAL) {
    const params = field['parameters'];
    const scale = Number(isObject(params) ? params['scale'] : 0) || 0;
    return (v) => (typeof v === 'string' ? decimalFromBase64(v, scale) : v);
  }
  if (name === VARIABLE_SCALE_DECIMAL) {
    return (v) => (isObject(v) && typeof v['value'] === 'string' ? decimalFromBase64(v['value'], Number(v['scale']) || 0) : v);
  }
  return undefined;
}

/** Per-column converters of a struct schema; undefined when no column needs one. */
export function structConverters(schema: unknown): Map<string, Converter> | undefined {
  if (!isObject(schema) || !Array.isArray(schema['fields'])) return undefined;
  let out: Map<string, Converter> | undefined;
  for (const f of schema['fields'] as unknown[]) {
    if (!isObject(f) || typeof f['field'] !== 'string') continue;
    const c = converterFor(f);
    if (c) (out ??= new Map()).set(f['field'], c);
  }
  return out;
}

/** The schema of one envelope field (`before`/`after`) of an envelope struct schema. */
export function envelopeFieldSchema(envelope: unknown, field: string): unknown {
  if (!isObject(envelope) || !Array.isArray(envelope['fields'])) return undefined;
  return (envelope['fields'] as unknown[]).find((f) => isObject(f) && f['field'] === field);
}

export function convertRow(row: Json | null, converters: Map<string, Converter> | undefined): Json | null {
  if (!row || !converters) return row;
  const out: Json = { ...row };
  for (const [column, convert] of converters) if (column in out && out[column] !== null) out[column] = convert(out[column]);
  return out;
}
