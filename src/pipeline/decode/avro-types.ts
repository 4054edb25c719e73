import avro from 'avsc';
import { decimalFromBase64 } from './logical-types.js';

/**
 * avsc options for Debezium's Avro schemas, chosen so values come out the way the JSON path
 * renders them: int64 exact (a number, or a bigint beyond 2^53, as the JSON path's exact parse),
 * Connect decimals (`bytes` + `logicalType: decimal` + `scale`) as their decimal text, and every
 * other logical type (timestamp-millis, date, time-micros…) as its underlying number — the epoch
 * value the JSON converter writes too. Unions stay unwrapped (`["null", T]` → the value or null).
 */

type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];
export type AvroOptions = NonNullable<Parameters<typeof avro.Type.forSchema>[1]>;

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function exact(n: bigint): number | bigint {
  return n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

/** Avro `long` as number when safe, bigint beyond 2^53 (avsc's own long type throws there). */
export const EXACT_LONG: avro.types.LongType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => exact(buf.readBigInt64LE()),
  toBuffer: (n: number | bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => (typeof v === 'bigint' ? exact(v) : Number(v)),
  toJSON: (n: number | bigint) => (typeof n === 'bigint' ? Number(n) : n),
  isValid: (n: unknown) => typeof n === 'bigint' || (typeof n === 'number' && Number.isInteger(n)),
  compare: (a: number | bigint, b: number | bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

interface DecimalSchema {
  readonly scale?: number;
  readonly 'connect.parameters'?: { readonly scale?: string };
}

/** `bytes` (or `fixed`) with `logicalType: decimal`: two's-complement unscaled value → "1234.50". */
export class DecimalType extends avro.types.LogicalType {
  readonly #scale: number;

  constructor(schema: AvroSchema, opts?: unknown) {
    super(schema, opts);
    const s = schema as DecimalSchema;
    this.#scale = Number(s.scale ?? s['connect.parameters']?.scale ?? 0) || 0;
  }

  protected override _fromValue(val: Buffer): string {
    return decimalFromBase64(val.toString('base64'), this.#scale);
  }

  /** Decimal text → unscaled two's complement (used when tests and tools encode). */
  protected override _toValue(val: unknown): Buffer {
    if (Buffer.isBuffer(val)) return val;
    const text = String(val);
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (!m) throw new Error(`not a decimal: ${text}`);
    const frac = (m[3] ?? '').padEnd(this.#scale, '0');
    if (frac.length > this.#scale) throw new Error(`${text} has more than ${this.#scale} decimals`);
    let n = BigInt(`${m[2]}${frac}`);
    if (m[1] === '-') n = -n;
    return twosComplement(n);
  }

  protected override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (avro.Type.isType(type, 'logical:decimal')) return (v) => v;
    return undefined;
  }
}

function twosComplement(n: bigint): Buffer {
  let bytes = 1;
  while (n < -(1n << BigInt(bytes * 8 - 1)) || n >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  const v = n < 0n ? (1n << BigInt(bytes * 8)) + n : n;
  return Buffer.from(v.toString(16).padStart(bytes * 2, '0'), 'hex');
}

/**
 * The avsc options every registry client of ours uses (the worker's and the tests' encoders).
 * avsc records named types in `registry`, and the library passes one options object to every
 * schema it parses (spread shallowly): a getter gives each schema a fresh registry, so two
 * versions of one topic's schema (same `….Envelope` name) do not clash as duplicate type names.
 */
export function avroOptions(): AvroOptions {
  return {
    get registry() {
      return { long: EXACT_LONG };
    },
    logicalTypes: { decimal: DecimalType },
    wrapUnions: 'never',
  };
}
