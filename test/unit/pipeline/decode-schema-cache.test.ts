import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Decoded, SourceRecord } from '../../../src/domain/types.js';
import { recordFromText } from '../../../src/mapping/record-input.js';
import { createDebeziumJsonDecoder, decodeDebeziumJson, SchemaCache } from '../../../src/pipeline/decode/debezium-json.js';
import { skipValue } from '../../../src/pipeline/decode/json-scan.js';
import { jsonBuffer, parseJsonExact } from '../../../src/util/json.js';
import { fixturePath } from '../../support/paths.js';

/**
 * The decoder parses only the payload of a {"schema":…,"payload":…} value and compares the schema
 * block with the topic's previous one as bytes. The reference is the whole-document parse: the same
 * value with one leading space, which the located-schema path does not take (JSON ignores it).
 * Every fixture must decode to the identical change event (or the identical error) both ways,
 * first with an empty cache, then with the cache holding its schema, then after another schema.
 */

type Outcome = { readonly decoded: Decoded } | { readonly error: string };

function outcome(f: () => Decoded): Outcome {
  try {
    return { decoded: f() };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

function withValue(r: SourceRecord, value: Buffer | null): SourceRecord {
  return { ...r, value };
}

/** The whole-document path: JSON.parse of everything, schema included (error positions as without the space). */
function reference(r: SourceRecord): Outcome {
  const o = outcome(() => decodeDebeziumJson(r.value ? withValue(r, Buffer.concat([Buffer.from(' '), r.value])) : r));
  return 'error' in o ? { error: o.error.replace(/(position|column) (\d+)/g, (_, w: string, n: string) => `${w} ${Number(n) - 1}`) } : o;
}

function assertEquivalent(r: SourceRecord, what: string): void {
  const want = reference(r);
  const schemas = new SchemaCache();
  const decode = createDebeziumJsonDecoder(schemas);
  assert.deepStrictEqual(outcome(() => decode(r)), want, `${what}: first record of the topic (schema parsed)`);
  assert.deepStrictEqual(outcome(() => decode(r)), want, `${what}: schema from the cache (byte-equal)`);
  assert.deepStrictEqual(outcome(() => decodeDebeziumJson(r)), want, `${what}: without a cache`);
  // another schema on the same topic replaces the cached one, and back
  const other = Buffer.from(`{"schema":{"type":"struct","fields":[],"optional":false,"name":"other.Envelope"},"payload":{"before":null,"after":{"id":1},"source":{"schema":"s","table":"t"},"op":"c"}}`);
  decode(withValue(r, other));
  assert.deepStrictEqual(outcome(() => decode(r)), want, `${what}: after another schema on the topic`);
}

function fixtureRecords(dir: string): { name: string; record: SourceRecord }[] {
  const out: { name: string; record: SourceRecord }[] = [];
  for (const f of readdirSync(fixturePath(dir)).filter((n) => n.endsWith('.json')).sort()) {
    const text = readFileSync(fixturePath(dir, f), 'utf8');
    const doc = JSON.parse(text) as unknown;
    if (Array.isArray(doc)) {
      // products-events.json: a list of records with their twins' names
      doc.forEach((ev: { name?: string; topic?: string }, i) => out.push({ name: `${dir}/${f}[${ev.name ?? i}]`, record: recordFromText(JSON.stringify(ev), { topic: ev.topic ?? 'shop.inventory.products' }) }));
    } else {
      out.push({ name: `${dir}/${f}`, record: recordFromText(text, { topic: 'shop.inventory.customers' }) });
    }
  }
  return out;
}

const FIXTURES = [...fixtureRecords('debezium'), ...fixtureRecords('avro')];

describe('decoding without parsing the schema block: identical change events', () => {
  it('covers the fixtures, with and without schemas', () => {
    assert.ok(FIXTURES.length >= 30, `${FIXTURES.length} fixtures`);
    assert.ok(FIXTURES.filter((f) => f.record.value?.subarray(0, 10).toString() === '{"schema":').length >= 10, 'schema-enabled fixtures');
  });

  for (const { name, record } of FIXTURES) {
    it(name, () => assertEquivalent(record, name));
  }

  const customers = FIXTURES.find((f) => f.name === 'debezium/update-full-with-schema.json')!.record;
  const text = customers.value!.toString('utf8');

  it('an int64 beyond 2^53 in a row goes through the exact parse, and a schema default beyond 2^53 compares exactly', () => {
    const big = '9007199254740993';
    const doc = JSON.parse(text) as { schema: { fields: { field: string; fields?: { field: string; default?: unknown }[] }[] }; payload: { before: Record<string, unknown> } };
    const beforeSchema = doc.schema.fields.find((f) => f.field === 'before')!;
    const column = beforeSchema.fields![0]!.field;
    const withBig = text.replace(`"payload":{`, `"payload":{"x":1,`).replace(new RegExp(`("before":\\{"${column}":)([^,}]+)`), `$1${big}`);
    const schemaDefault = withBig.replace(`{"type":"int32","optional":false,"field":"${column}"`, `{"type":"int64","optional":false,"default":${big},"field":"${column}"`);
    for (const [what, value] of [['big id', withBig], ['big id with a big default', schemaDefault]] as const) {
      const r = withValue(customers, Buffer.from(value));
      assertEquivalent(r, what);
      const d = decodeDebeziumJson(r);
      assert.equal(d.kind, 'change');
      if (d.kind === 'change') assert.equal(typeof d.event.before?.[column], 'bigint', `${what}: exact`);
    }
  });

  it('a key-only delete whose non-key int64 column holds its default beyond 2^53: compared exactly, as the whole-document parse does', () => {
    const fixture = FIXTURES.find((f) => f.name === 'debezium/delete-default-with-schema.json')!.record;
    const doc = parseJsonExact(fixture.value!.toString('utf8')) as { schema: { fields: { field: string; fields: unknown[] }[] }; payload: { before: Record<string, unknown> } };
    const big = 9007199254740993n;
    doc.schema.fields.find((f) => f.field === 'before')!.fields.push({ type: 'int64', optional: false, default: big, field: 'big' });
    doc.payload.before['big'] = big;
    const r = withValue(fixture, jsonBuffer(doc));
    assertEquivalent(r, 'big default');
    const want = reference(r);
    assert.ok('decoded' in want && want.decoded.kind === 'change' && want.decoded.event.beforeLooksKeyOnly, 'the reference sees a key-only image (the default equals the value exactly)');
  });

  it('values the located path must not take: trailing spaces, a third member, payload first, broken JSON', () => {
    const variants: [string, string][] = [
      ['trailing whitespace', `${text} \n`],
      ['a third member', text.replace(/}$/, ',"extra":1}')],
      ['payload before schema', (() => {
        const d = JSON.parse(text) as { schema: unknown; payload: unknown };
        return JSON.stringify({ payload: d.payload, schema: d.schema });
      })()],
      ['broken payload', text.slice(0, -2)],
      ['broken schema', text.replace('"type":"struct"', '"type":struct')],
      ['strings with quotes and braces in the schema', text.replace('"optional":false', '"doc":"a \\"quoted\\" {brace} \\\\","optional":false')],
      ['null schema', `{"schema":null,"payload":${JSON.stringify((JSON.parse(text) as { payload: unknown }).payload)}}`],
      ['a payload that is not an object', '{"schema":{"type":"string"},"payload":"x"}'],
      ['a null payload', '{"schema":{"type":"struct"},"payload":null}'],
    ];
    for (const [what, value] of variants) assertEquivalent(withValue(customers, Buffer.from(value)), what);
  });
});

describe('skipValue', () => {
  const cases: [string, number][] = [
    ['{"a":[1,{"b":"}"}],"c":"\\"}"} tail', 29],
    ['"a\\\\" rest', 5],
    ['[1,2,[3]],', 9],
    ['  true,', 6],
    ['-12.5e3}', 7],
    ['{"a":"unterminated}', -1],
    ['{"a":1', -1],
    ['', -1],
  ];
  for (const [json, end] of cases) {
    it(`${JSON.stringify(json)} ends at ${end}`, () => assert.equal(skipValue(Buffer.from(json), 0), end));
  }
  it('agrees with JSON.parse on where every fixture value ends', () => {
    for (const { record } of FIXTURES) {
      if (!record.value) continue;
      assert.equal(skipValue(record.value, 0), record.value.length);
    }
  });
});
