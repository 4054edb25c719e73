import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import protobuf from 'protobufjs';
import { recordFromText } from '../../../src/mapping/record-input.js';
import { decodeDebeziumJson } from '../../../src/pipeline/decode/debezium-json.js';
import { DecodeError, DecoderUnavailableError } from '../../../src/pipeline/decode/errors.js';
import { createDecoder, type RecordDecoder } from '../../../src/pipeline/decode/format.js';
import { RegistryClient } from '../../../src/pipeline/decode/registry-client.js';
import type { Decoded, SourceRecord } from '../../../src/domain/types.js';
import { freePort } from '../../support/ports.js';
import { avroEvents, avroSchemaText, encodeEvent, registerProducts, type ProductsSchemas } from '../../support/avro.js';
import { fixturePath } from '../../support/paths.js';
import { startSchemaRegistry, type TestSchemaRegistry } from '../../support/schema-registry.js';

let registry: TestSchemaRegistry;
let schemas: ProductsSchemas;

before(async () => {
  registry = await startSchemaRegistry();
  schemas = await registerProducts(registry.url);
});
after(async () => registry?.close());

function record(topic: string, key: Buffer | null, value: Buffer | null): SourceRecord {
  return { topic, partition: 0, offset: '11', key, value, headers: {} };
}

/** A fresh decoder (its own client, so its own schema cache). */
function decoder(format: 'avro' | 'auto', timeoutMs = 5_000): RecordDecoder {
  return createDecoder({ format, schemaRegistry: { url: registry.url, timeoutMs } });
}

async function errorOf(p: Decoded | Promise<Decoded> | (() => Decoded | Promise<Decoded>)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected an error');
}

function frame(id: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, payload]);
}

describe('Debezium Avro decoder (Schema Registry)', () => {
  for (const ev of avroEvents()) {
    it(`${ev.name}: the Avro record decodes to the same result as its JSON-converter twin`, async () => {
      const { key, value } = await encodeEvent(schemas, ev);
      assert.equal(key[0], 0);
      const twin = decodeDebeziumJson(recordFromText(readFileSync(fixturePath('avro', ev.twin), 'utf8'), { topic: ev.topic }));
      for (const format of ['avro', 'auto'] as const) {
        const got = await decoder(format)(record(ev.topic, key, value));
        assert.deepEqual(got, twin, `${ev.name} (${format})`);
      }
    });
  }

  it('renders logical types as the JSON path: decimal text, exact int64, epoch micros, zoned text, UUID text', async () => {
    const decode = decoder('avro');
    const [create, update, , read] = avroEvents();
    const c = await decode(record(create!.topic, ...Object.values(await encodeEvent(schemas, create!)) as [Buffer, Buffer]));
    assert.equal(c.kind, 'change');
    if (c.kind !== 'change') return;
    assert.deepEqual(c.event.after, {
      id: 501,
      name: 'Widget',
      description: null,
      price: '1234.50',
      created_at: 1709288130123456,
      updated_at: '2024-03-01T10:15:30.123456Z',
      sku: '5f1c6f8e-8a7b-4c1d-9e2f-0a1b2c3d4e5f',
    });
    assert.deepEqual(c.event.keyColumns, ['id']);
    assert.equal(c.event.table, 'inventory.products');
    assert.equal(c.event.sourceTsMs, 1793614200000);
    const u = await decode(record(update!.topic, ...Object.values(await encodeEvent(schemas, update!)) as [Buffer, Buffer]));
    assert.equal(u.kind === 'change' && u.event.after?.['price'], '999.99');
    assert.equal(u.kind === 'change' && u.event.before?.['price'], '1234.50');
    const r = await decode(record(read!.topic, ...Object.values(await encodeEvent(schemas, read!)) as [Buffer, Buffer]));
    assert.equal(r.kind === 'change' && r.event.after?.['id'], 9007199254740993n);
    assert.equal(r.kind === 'change' && r.event.after?.['price'], '-0.05');
  });

  it('fetches each schema once (cached by id), and skips tombstones and heartbeats without a lookup', async () => {
    const decode = decoder('avro');
    const before = registry.requests.length;
    for (const ev of avroEvents()) {
      const { key, value } = await encodeEvent(schemas, ev);
      await decode(record(ev.topic, key, value));
    }
    const fetched = registry.requests.slice(before).filter((r) => r.startsWith('GET /schemas/ids/'));
    assert.deepEqual(fetched.sort(), [`GET /schemas/ids/${schemas.keyId}`, `GET /schemas/ids/${schemas.valueId}`].sort());
    const n = registry.requests.length;
    assert.deepEqual(await decode(record('shop.inventory.products', null, null)), { kind: 'skip', reason: 'tombstone' });
    assert.deepEqual(await decode(record('__debezium-heartbeat.shop', null, frame(4242, Buffer.from([2])))), { kind: 'skip', reason: 'heartbeat' });
    assert.equal(registry.requests.length, n);
  });

  it('an unknown schema id is a poison record (unknown_schema)', async () => {
    const err = await errorOf(decoder('avro')(record('shop.inventory.products', null, frame(987_654, Buffer.from([0x02, 0x41])))));
    assert.ok(err instanceof DecodeError, err.message);
    assert.equal(err.code, 'unknown_schema');
    assert.match(err.message, /987654/);
  });

  it('bytes that do not decode with their schema are a poison record (invalid_avro)', async () => {
    for (const garbage of [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Buffer.alloc(0), Buffer.from('{"op":"c"}')]) {
      const err = await errorOf(decoder('avro')(record('shop.inventory.products', null, frame(schemas.valueId, garbage))));
      assert.ok(err instanceof DecodeError, err.message);
      assert.equal(err.code, 'invalid_avro');
    }
    // A valid value with trailing bytes is not that schema's value either.
    const { value } = await encodeEvent(schemas, avroEvents()[0]!);
    const err = await errorOf(decoder('avro')(record('shop.inventory.products', null, Buffer.concat([value!, Buffer.from([1, 2, 3])]))));
    assert.ok(err instanceof DecodeError && err.code === 'invalid_avro', err.message);
    // --format avro and a JSON value: not framed.
    const json = await errorOf(decoder('avro')(record('shop.inventory.products', null, Buffer.from('{"op":"c"}'))));
    assert.ok(json instanceof DecodeError && json.code === 'invalid_avro', json.message);
  });

  it('auto: JSON values go the JSON way (synchronously), framed ones through the registry', async () => {
    const decode = decoder('auto');
    const jsonRecord = recordFromText(readFileSync(fixturePath('debezium', 'create-no-schema.json'), 'utf8'), { topic: 'x' });
    const d = decode(jsonRecord);
    assert.ok(!(d instanceof Promise));
    assert.deepEqual(d, decodeDebeziumJson(jsonRecord));
    // Without a registry, a framed value stays a JSON error, with a hint.
    const noRegistry = createDecoder({ format: 'auto' });
    const err = await errorOf(() => noRegistry(record('t', null, frame(3, Buffer.from([1, 2])))));
    assert.ok(err instanceof DecodeError && err.code === 'invalid_json');
    assert.match(err.message, /--schema-registry/);
  });

  it('a registry that answers 503, hangs or refuses is an outage (retryable), not poison; it decodes once the registry is back', async () => {
    const { key, value } = await encodeEvent(schemas, avroEvents()[0]!);
    const rec = record('shop.inventory.products', key, value);
    try {
      registry.mode = 'unavailable';
      const e503 = await errorOf(decoder('avro')(rec));
      assert.ok(e503 instanceof DecoderUnavailableError, e503.message);
      assert.match(e503.message, /503/);

      registry.mode = 'hang';
      const hanging = decoder('avro', 300);
      const t0 = Date.now();
      const eHang = await errorOf(hanging(rec));
      assert.ok(eHang instanceof DecoderUnavailableError, eHang.message);
      assert.ok(Date.now() - t0 < 3_000, `timed out after ${Date.now() - t0} ms`);

      registry.mode = 'ok';
      const back = await hanging(rec);
      assert.equal(back.kind, 'change');
    } finally {
      registry.mode = 'ok';
    }
    const closed = createDecoder({ format: 'avro', schemaRegistry: { url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1_000 } });
    const refused = await errorOf(closed(rec));
    assert.ok(refused instanceof DecoderUnavailableError, refused.message);
  });

  it('sends basic auth; a 401 is an outage (retried), not poison', async () => {
    const { key, value } = await encodeEvent(schemas, avroEvents()[0]!);
    const rec = record('shop.inventory.products', key, value);
    registry.requireAuth = `Basic ${Buffer.from('cdc:s3cret').toString('base64')}`;
    try {
      const withAuth = createDecoder({ format: 'avro', schemaRegistry: { url: registry.url, timeoutMs: 5_000, username: 'cdc', password: 's3cret' } });
      assert.equal((await withAuth(rec)).kind, 'change');
      const err = await errorOf(decoder('avro')(rec));
      assert.ok(err instanceof DecoderUnavailableError, err.message);
      assert.match(err.message, /401/);
    } finally {
      registry.requireAuth = undefined;
    }
  });

  it('Protobuf values (ProtobufConverter) decode to the same event as the JSON converter', async () => {
    const proto = `syntax = "proto3";
package shop.inventory.customers;

message Envelope {
  Value before = 1;
  Value after = 2;
  Source source = 3;
  string op = 4;
  optional int64 ts_ms = 5;

  message Value {
    int64 id = 1;
    string first_name = 2;
    string last_name = 3;
    string email = 4;
  }
  message Source {
    string schema = 1;
    string table = 2;
    int64 ts_ms = 3;
  }
}
`;
    const client = new RegistryClient({ url: registry.url, timeoutMs: 5_000 });
    const { id } = await client.registry.register({ type: SchemaType.PROTOBUF, schema: proto }, { subject: 'shop.inventory.customers-value' });
    const row = { id: 1005, first_name: 'Anne', last_name: 'Kretchmar', email: 'Anne@Example.com' };
    const envelope = { before: null, after: row, source: { schema: 'inventory', table: 'customers', ts_ms: 1793614100000 }, op: 'c', ts_ms: 1793614100100 };
    // Encoded as Confluent's ProtobufSerializer does: field names as in the .proto, message indexes after the schema id.
    const writer = protobuf.parse(proto, { keepCase: true }).root.lookupType('shop.inventory.customers.Envelope');
    const message = Buffer.from(writer.encode(writer.fromObject({ ...envelope, before: undefined })).finish());
    const key = Buffer.from(JSON.stringify({ id: 1005 }));
    const expected = decodeDebeziumJson(record('shop.inventory.customers', key, Buffer.from(JSON.stringify(envelope))));
    assert.equal(expected.kind, 'change');
    // [0] is written as one 0 byte; the long form (count 1, index 0: zigzag 2, 0) means the same.
    for (const indexes of [[0], [2, 0]]) {
      const value = frame(id, Buffer.concat([Buffer.from(indexes), message]));
      assert.deepEqual(await decoder('auto')(record('shop.inventory.customers', key, value)), expected, `indexes ${indexes.join(',')}`);
    }
    const bad = await errorOf(decoder('avro')(record('shop.inventory.customers', key, frame(id, Buffer.from([0, 0x0a, 0xff, 0xff])))));
    assert.ok(bad instanceof DecodeError && bad.code === 'invalid_protobuf', bad.message);
    const noSuchMessage = await errorOf(decoder('avro')(record('shop.inventory.customers', key, frame(id, Buffer.concat([Buffer.from([2, 2]), message])))));
    assert.ok(noSuchMessage instanceof DecodeError && /message index 1 names no message/.test(noSuchMessage.message), noSuchMessage.message);
    // Each schema is parsed with keepCase on its own: protobufjs' process-wide defaults stay as they were.
    assert.equal((protobuf.parse as unknown as { defaults: { keepCase: boolean } }).defaults.keepCase, false);
  });

  it('a Protobuf schema with a reference (an imported .proto) decodes with the field names of both files', async () => {
    const common = 'syntax = "proto3";\npackage shop.common;\nmessage Source {\n  string schema = 1;\n  string table = 2;\n  int64 ts_ms = 3;\n}\n';
    const main = `syntax = "proto3";
package shop.inventory.orders;
import "shop/common/source.proto";

message Envelope {
  Value before = 1;
  Value after = 2;
  shop.common.Source source = 3;
  string op = 4;

  message Value {
    int64 order_id = 1;
    string customer_email = 2;
  }
}
`;
    const client = new RegistryClient({ url: registry.url, timeoutMs: 5_000 });
    await client.registry.register({ type: SchemaType.PROTOBUF, schema: common }, { subject: 'shop/common/source.proto' });
    const { id } = await client.registry.register(
      { type: SchemaType.PROTOBUF, schema: main, references: [{ name: 'shop/common/source.proto', subject: 'shop/common/source.proto', version: 1 }] },
      { subject: 'shop.inventory.orders-value' },
    );
    const root = new protobuf.Root();
    protobuf.parse(common, root, { keepCase: true });
    protobuf.parse(main, root, { keepCase: true });
    const writer = root.lookupType('shop.inventory.orders.Envelope');
    const envelope = { after: { order_id: 7, customer_email: 'a@x' }, source: { schema: 'inventory', table: 'orders', ts_ms: 1 }, op: 'c' };
    const value = frame(id, Buffer.concat([Buffer.from([0]), Buffer.from(writer.encode(writer.fromObject(envelope)).finish())]));
    const got = await decoder('avro')(record('shop.inventory.orders', Buffer.from('{"order_id":7}'), value));
    assert.equal(got.kind, 'change');
    assert.deepEqual(got.kind === 'change' && got.event.after, { order_id: 7, customer_email: 'a@x' });
    assert.equal(got.kind === 'change' && got.event.table, 'inventory.orders');
  });

  it('JSON Schema values (JsonSchemaConverter) decode to the same event as the JSON converter, and are checked against their schema', async () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'shop.inventory.customers.Envelope',
      type: 'object',
      properties: {
        before: { oneOf: [{ type: 'null' }, { type: 'object' }] },
        after: { oneOf: [{ type: 'null' }, { type: 'object' }] },
        source: { type: 'object' },
        op: { type: 'string' },
        ts_ms: { type: 'integer' },
      },
      required: ['op', 'source'],
    };
    const client = new RegistryClient({ url: registry.url, timeoutMs: 5_000 });
    const { id } = await client.registry.register({ type: SchemaType.JSON, schema: JSON.stringify(schema) }, { subject: 'shop.inventory.customers-json-value' });
    const text = '{"before":{"id":9007199254740993,"email":"old@x"},"after":null,"source":{"schema":"inventory","table":"customers","ts_ms":1793614100000},"op":"d","ts_ms":1793614100100}';
    const key = Buffer.from('{"id":9007199254740993}');
    const expected = decodeDebeziumJson(record('shop.inventory.customers', key, Buffer.from(text)));
    assert.equal(expected.kind === 'change' && expected.event.before?.['id'], 9007199254740993n);
    assert.deepEqual(await decoder('avro')(record('shop.inventory.customers', key, frame(id, Buffer.from(text)))), expected);
    const mismatch = await errorOf(decoder('avro')(record('shop.inventory.customers', key, frame(id, Buffer.from('{"before":null}')))));
    assert.ok(mismatch instanceof DecodeError && mismatch.code === 'schema_mismatch', mismatch.message);
  });
});

describe('Avro schema versions', () => {
  it('two versions of one topic schema (same record names) both decode in one client', async () => {
    const reg = await startSchemaRegistry();
    try {
      const s = await registerProducts(reg.url);
      const v2 = JSON.parse(avroSchemaText('products-value')) as { fields: { type: { fields: unknown[] }[] }[] };
      v2.fields[0]!.type[1]!.fields.push({ name: 'color', type: ['null', 'string'], default: null });
      const { id: v2Id } = await s.client.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject: 'v2-value' });
      assert.notEqual(v2Id, s.valueId);
      const ev = avroEvents()[0]!;
      const decode = createDecoder({ format: 'avro', schemaRegistry: { url: reg.url, timeoutMs: 5_000 } });
      const v1 = await decode(record(ev.topic, null, await s.client.registry.encode(s.valueId, ev.value)));
      const after = { ...(ev.value!['after'] as Record<string, unknown>), color: 'red' };
      const v2d = await decode(record(ev.topic, null, await s.client.registry.encode(v2Id, { ...ev.value, after })));
      assert.equal(v1.kind === 'change' && v1.event.after?.['color'], undefined);
      assert.equal(v2d.kind === 'change' && v2d.event.after?.['color'], 'red');
    } finally {
      await reg.close();
    }
  });
});
