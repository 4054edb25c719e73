import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Redis } from 'ioredis';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { jsonBuffer } from '../../src/util/json.js';
import { DLQ_HEADERS } from '../../src/pipeline/poison/dead-letter.js';
import { parseJsonExact } from '../../src/util/json.js';
import { avroEvents, avroSchemaText, encodeEvent, registerProducts, type AvroFixtureEvent, type ProductsSchemas } from '../support/avro.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, uniqueName } from '../support/kafka.js';
import { fixturePath } from '../support/paths.js';
import { waitFor } from '../support/processes.js';
import type { RedisServer } from '../support/redis-server.js';
import { startSchemaRegistry, type TestSchemaRegistry } from '../support/schema-registry.js';
import { startServices, type Services } from '../support/services.js';
import { mappingsDir, startWorker } from '../support/worker.js';

const PRODUCTS_MAPPING = `mappings:
  - name: products
    table: inventory.products
    ops: [c, u, d, r]
    keys:
      - "product:{id}"
      - "product:name:{name}"
      - "product:{id}:price:{price}"
      - "product:sku:{sku}"
`;

/** Every key the fixture events could name, plus decoys that nothing names. */
const CANDIDATES = [
  'product:501', 'product:name:Widget', 'product:name:Widget XL', 'product:501:price:1234.50', 'product:501:price:999.99',
  'product:sku:5f1c6f8e-8a7b-4c1d-9e2f-0a1b2c3d4e5f', 'product:502', 'product:name:', 'product:502:price:0.00',
  'product:9007199254740993', 'product:name:Gadget', 'product:9007199254740993:price:-0.05',
  'product:9007199254740992', 'product:501:price:1234.5', 'product:name:decoy',
];

let services: Services;
let broker: KafkaBroker;
let redisServer: RedisServer;
let redis: Redis;
let kafka: Kafka;
let registry: TestSchemaRegistry;
let schemas: ProductsSchemas;
let mappings: string;

before(async () => {
  services = await startServices();
  ({ broker, redisServer, redis, kafka } = services);
  registry = await startSchemaRegistry();
  schemas = await registerProducts(registry.url);
  mappings = await mappingsDir(PRODUCTS_MAPPING);
});
after(async () => {
  await registry?.close();
  await services?.stop();
});

async function send(topic: string, messages: { key: Buffer | null; value: Buffer | null }[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic, messages: messages.map((m) => ({ ...m, partition: 0 })) });
  } finally {
    await producer.disconnect();
  }
}

async function committedTo(group: string, topic: string): Promise<bigint> {
  return (await committedOffsets(kafka, group, topic)).get(0) ?? -1n;
}

async function allCommitted(group: string, topic: string): Promise<boolean> {
  return (await committedTo(group, topic)) === (await endOffsets(kafka, topic)).get(0);
}

/** Which candidate keys a worker run over `messages` deletes. */
async function deletedBy(messages: { key: Buffer | null; value: Buffer | null }[], flags: Record<string, string>): Promise<string[]> {
  const topic = `${uniqueName('shop')}.inventory.products`;
  const group = uniqueName('g');
  await redis.mset(...CANDIDATES.flatMap((k) => [k, 'cached']));
  await send(topic, messages);
  const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '50ms', ...flags });
  try {
    await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, message: 'committed to the end' });
    assert.equal(stats.get('poison_records'), 0);
  } finally {
    await worker.stop(5_000);
  }
  const left = new Set<string>();
  for (const k of CANDIDATES) if ((await redis.exists(k)) === 1) left.add(k);
  await redis.del(...CANDIDATES);
  return CANDIDATES.filter((k) => !left.has(k));
}

function jsonTwin(ev: AvroFixtureEvent): { key: Buffer | null; value: Buffer | null } {
  const rec = parseJsonExact(readFileSync(fixturePath('avro', ev.twin), 'utf8')) as { key: unknown; value: unknown };
  return { key: jsonBuffer(rec.key), value: jsonBuffer(rec.value) };
}

describe('Avro change events through a Schema Registry', { timeout: 180_000 }, () => {
  it('create/update/delete/read/tombstone: Avro records delete exactly the keys their JSON twins delete', async () => {
    const events = avroEvents();
    const avro = await Promise.all(events.map((ev) => encodeEvent(schemas, ev)));
    const fromAvro = await deletedBy(avro, { format: 'avro', schemaRegistry: registry.url });
    const fromJson = await deletedBy(events.map(jsonTwin), { format: 'json' });
    assert.deepEqual(fromAvro, fromJson);
    for (const k of ['product:501', 'product:501:price:1234.50', 'product:501:price:999.99', 'product:name:Widget XL', 'product:9007199254740993', 'product:9007199254740993:price:-0.05', 'product:502']) {
      assert.ok(fromAvro.includes(k), `${k} not deleted`);
    }
    for (const k of ['product:9007199254740992', 'product:501:price:1234.5', 'product:name:decoy']) assert.ok(!fromAvro.includes(k), `${k} deleted`);
  });

  it('a registry outage mid-stream pauses the partition (not ready, nothing committed past) and it recovers with nothing lost', async () => {
    const topic = `${uniqueName('shop')}.inventory.products`;
    const group = uniqueName('g');
    // A second version of the value schema (one more nullable column): the worker has not fetched it yet.
    const v2 = JSON.parse(avroSchemaText('products-value')) as { fields: { name: string; type: { fields: unknown[] }[] }[] };
    v2.fields[0]!.type[1]!.fields.push({ name: 'color', type: ['null', 'string'], default: null });
    const { id: v2Id } = await schemas.client.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject: `${topic}-value` });
    const [create] = avroEvents();
    const first = await encodeEvent(schemas, create!);
    await redis.mset('product:501', 'cached', 'product:777', 'cached', 'product:778', 'cached');
    await send(topic, [first]);
    const { worker, stats } = await startWorker({
      brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '50ms',
      format: 'auto', schemaRegistry: registry.url, schemaRegistryTimeout: '300ms',
    });
    try {
      await waitFor(async () => (await redis.exists('product:501')) === 0 && (await allCommitted(group, topic)), { timeoutMs: 30_000, message: 'first event applied' });
      const before = await committedTo(group, topic);
      registry.mode = 'unavailable';
      const row = (id: number) => ({ ...(create!.value!['after'] as Record<string, unknown>), id, color: 'red' });
      const during = [
        { key: await schemas.client.registry.encode(schemas.keyId, { id: 777 }), value: await schemas.client.registry.encode(v2Id, { ...create!.value, after: row(777) }) },
        { key: await schemas.client.registry.encode(schemas.keyId, { id: 778 }), value: await schemas.client.registry.encode(v2Id, { ...create!.value, after: row(778) }) },
      ];
      await send(topic, during);
      await waitFor(() => stats.get('registry_retries') >= 3, { timeoutMs: 20_000, message: 'decode retried during the outage' });
      assert.equal(worker.health().ready, false, 'ready while the registry is down');
      assert.equal(worker.state, 'running');
      assert.equal(await redis.exists('product:777', 'product:778'), 2, 'applied without its schema');
      assert.equal(await committedTo(group, topic), before, 'committed past records it could not decode');
      assert.equal(stats.get('poison_records'), 0, 'an outage was treated as poison');
      const hang = registry.requests.length;
      registry.mode = 'hang';
      await waitFor(() => registry.requests.length > hang + 1, { timeoutMs: 20_000, message: 'retried against a hanging registry' });
      assert.equal(await committedTo(group, topic), before);

      registry.mode = 'ok';
      await waitFor(async () => (await redis.exists('product:777', 'product:778')) === 0 && (await allCommitted(group, topic)), { timeoutMs: 30_000, message: 'recovered after the outage' });
      assert.equal(worker.health().ready, true);
      assert.equal(stats.get('events'), 3);
      assert.equal(stats.get('poison_records'), 0);
    } finally {
      registry.mode = 'ok';
      await worker.stop(5_000);
    }
  });

  it('an unknown schema id is a poison record: dead-lettered (unknown_schema), and the stream goes on', async () => {
    const topic = `${uniqueName('shop')}.inventory.products`;
    const group = uniqueName('g');
    const dlqTopic = `${group}.dlq`;
    const unknown = Buffer.from([0, 0, 0x0f, 0x42, 0x3f, 0x02, 0x41]); // schema id 999999
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 0, schemas.valueId]), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    const [create] = avroEvents();
    const good = await encodeEvent(schemas, create!);
    await redis.set('product:501', 'cached');
    await send(topic, [{ key: null, value: unknown }, { key: null, value: garbage }, good]);
    const { worker, stats } = await startWorker({
      brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '50ms',
      format: 'avro', schemaRegistry: registry.url,
    });
    try {
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, message: 'committed past the poison records' });
      assert.equal(await redis.exists('product:501'), 0);
      assert.equal(stats.get('poison_records', { code: 'unknown_schema' }), 1);
      assert.equal(stats.get('poison_records', { code: 'invalid_avro' }), 1);
      const parked: KafkaMessage[] = [];
      const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader'), sessionTimeout: 6_000, rebalanceTimeout: 6_000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topics: [dlqTopic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void parked.push(message) });
      try {
        await waitFor(() => parked.length >= 2, { timeoutMs: 30_000, message: `2 records in ${dlqTopic}` });
      } finally {
        await consumer.disconnect();
      }
      const byOffset = new Map(parked.map((m) => [m.headers![DLQ_HEADERS.offset]!.toString(), m]));
      assert.equal(byOffset.get('0')!.headers![DLQ_HEADERS.code]!.toString(), 'unknown_schema');
      assert.deepEqual(byOffset.get('0')!.value, unknown);
      assert.equal(byOffset.get('1')!.headers![DLQ_HEADERS.code]!.toString(), 'invalid_avro');
    } finally {
      await worker.stop(5_000);
    }
  });
});
