import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/pipeline/poison/dead-letter.js';
import { changeEvent, customerCreate } from '../support/debezium.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import type { RedisServer } from '../support/redis-server.js';
import { startServices, type Services } from '../support/services.js';
import { mappingsDir, startWorker } from '../support/worker.js';

let services: Services;
let broker: KafkaBroker;
let redisServer: RedisServer;
let redis: Redis;
let kafka: Kafka;

before(async () => {
  services = await startServices();
  ({ broker, redisServer, redis, kafka } = services);
});
after(async () => services?.stop());

const source = { schema: 'inventory', table: 'customers' };
const MAX_RECORD_BYTES = 100_000;

/** Bad inputs, each with the code it must be dead-lettered with. */
const BAD: Array<[string, string | Buffer, string]> = [
  ['truncated JSON', '{"op":"c","after":{"id":1', 'invalid_json'],
  ['binary garbage', Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]), 'invalid_json'],
  ['trailing garbage', '{"op":"c"}xyz', 'invalid_json'],
  ['NaN literal', '{"op":"c","after":{"id":NaN}}', 'invalid_json'],
  ['byte order mark', '\uFEFF{"op":"c","after":{"id":1}}', 'invalid_json'],
  ['whitespace only', '   \n  ', 'invalid_json'],
  ['empty object', '{}', 'invalid_envelope'],
  ['array', '[1,2,3]', 'invalid_envelope'],
  ['number', '42', 'invalid_envelope'],
  ['string', '"hello"', 'invalid_envelope'],
  ['boolean', 'true', 'invalid_envelope'],
  ['deeply nested arrays', `${'['.repeat(5_000)}${']'.repeat(5_000)}`, 'invalid_envelope'],
  ['missing op', JSON.stringify({ before: null, after: { id: 1 }, source }), 'invalid_envelope'],
  ['row without unwrap markers', JSON.stringify({ id: 1, email: 'x' }), 'invalid_envelope'],
  ['schema/payload mismatch', JSON.stringify({ schema: { type: 'struct', fields: [] }, payload: [1, 2] }), 'invalid_envelope'],
  ['schema with string payload', JSON.stringify({ schema: { type: 'string' }, payload: 'x' }), 'invalid_envelope'],
  ['op null', JSON.stringify({ op: null, after: { id: 1 }, source }), 'unknown_op'],
  ['op number', JSON.stringify({ op: 5, after: { id: 1 }, source }), 'unknown_op'],
  ['unknown op', JSON.stringify({ op: 'x', after: { id: 1 }, source }), 'unknown_op'],
  ['unknown unwrap __op', JSON.stringify({ id: 1, __op: 'q' }), 'unknown_op'],
  ['create without after', JSON.stringify({ op: 'c', before: null, after: null, source }), 'invalid_row_image'],
  ['read without after', JSON.stringify({ op: 'r', before: null, after: null, source }), 'invalid_row_image'],
  ['delete without before', JSON.stringify({ op: 'd', before: null, after: null, source }), 'invalid_row_image'],
  ['update without after', JSON.stringify({ op: 'u', before: { id: 1 }, after: null, source }), 'invalid_row_image'],
  ['after is a string', JSON.stringify({ op: 'c', after: 'row', source }), 'invalid_row_image'],
  ['before is an array', JSON.stringify({ op: 'd', before: [1], source }), 'invalid_row_image'],
  ['key column is an object', JSON.stringify({ op: 'c', after: { id: { a: 1 }, email: 'a' }, source }), 'template_render'],
  ['key column is an array', JSON.stringify({ op: 'd', before: { id: [1], email: 'a' }, source }), 'template_render'],
  ['email column is an object', JSON.stringify({ op: 'c', after: { id: 1, email: { x: 1 } }, source }), 'template_render'],
  ['number overflowing to Infinity', '{"op":"c","after":{"id":1.5e400,"email":"a"},"source":{"schema":"inventory","table":"customers"}}', 'template_render'],
  ['huge value', JSON.stringify({ op: 'c', after: { id: 1, email: 'x'.repeat(MAX_RECORD_BYTES) }, source }), 'too_large'],
];

describe('poison records', { timeout: 120_000 }, () => {
  it(`dead-letters ${BAD.length} bad inputs with their reason, keeps consuming, and applies the good events around them`, async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const dlqTopic = `${group}.dlq`;
    const strange = 'Ünïcødé 🚀 "quoted" \\ back\nnew line\u0000nul';
    const long = 'l'.repeat(10_000);
    const goods = [
      customerCreate(1, 'a@x'),
      customerCreate(2, strange),
      customerCreate(3, long),
      changeEvent('d', { before: { id: 4, email: 'd@x' } }),
    ];
    const goodKeys = ['customer:1', 'customer:email:a@x', 'customer:2', `customer:email:${strange}`, 'customer:3', `customer:email:${long}`, 'customer:4', 'customer:email:d@x'];
    for (const k of goodKeys) await redis.set(k, 'cached');

    // Interleave: good, bad×8, good, … on one partition, so good events sit between bad ones.
    const messages: { key: string; value: string | Buffer; partition: number }[] = [];
    let g = 0;
    BAD.forEach(([, value], i) => {
      if (i % 8 === 0 && g < goods.length) messages.push({ key: JSON.stringify({ id: g + 1 }), value: JSON.stringify(goods[g++]), partition: 0 });
      messages.push({ key: JSON.stringify({ id: 1000 + i }), value, partition: 0 });
    });
    while (g < goods.length) messages.push({ key: JSON.stringify({ id: g + 1 }), value: JSON.stringify(goods[g++]), partition: 0 });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic, messages: messages.map((m) => ({ ...m, headers: { 'x-app': 'kept' } })) });
    await producer.disconnect();

    const { worker, stats } = await startWorker({
      brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings: await mappingsDir(),
      secondDeleteDelay: '50ms', maxRecordBytes: String(MAX_RECORD_BYTES),
    });
    try {
      const end = await endOffsets(kafka, topic);
      await waitFor(async () => (await committedOffsets(kafka, group, topic)).get(0) === end.get(0), { timeoutMs: 60_000, message: 'committed past every bad input' });
      assert.equal(worker.state, 'running');
      assert.equal(await redis.exists(...goodKeys), 0, 'a good event between bad ones was not applied');
      assert.equal(stats.get('poison_records'), BAD.length);

      // The dead-letter topic holds every bad input: original key/value/headers plus the reason.
      const parked: KafkaMessage[] = [];
      const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader'), sessionTimeout: 6_000, rebalanceTimeout: 6_000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topics: [dlqTopic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void parked.push(message) });
      try {
        await waitFor(() => parked.length >= BAD.length, { timeoutMs: 30_000, message: `${BAD.length} records in ${dlqTopic}` });
      } finally {
        await consumer.disconnect();
      }
      assert.equal(parked.length, BAD.length);
      const byOffset = new Map(parked.map((m) => [m.headers![DLQ_HEADERS.offset]!.toString(), m]));
      messages.forEach((m, offset) => {
        const bad = BAD.find(([, v]) => v === m.value);
        if (!bad) return;
        const dl = byOffset.get(String(offset));
        assert.ok(dl, `${bad[0]} (offset ${offset}) not dead-lettered`);
        assert.equal(dl.headers![DLQ_HEADERS.code]!.toString(), bad[2], bad[0]);
        assert.equal(dl.headers![DLQ_HEADERS.topic]!.toString(), topic);
        assert.equal(dl.headers![DLQ_HEADERS.partition]!.toString(), '0');
        assert.equal(dl.headers!['x-app']!.toString(), 'kept');
        assert.ok(dl.headers![DLQ_HEADERS.message]!.toString().length > 0);
        assert.deepEqual(dl.value, Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value), `${bad[0]}: value kept byte for byte`);
        assert.equal(dl.key!.toString(), m.key);
      });
    } finally {
      await worker.stop(5_000);
    }
  });
});
