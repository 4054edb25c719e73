import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { RedisSink } from '../../src/pipeline/sink/redis-sink.js';
import { purgingName } from '../../src/pipeline/sink/sink.js';
import { changeEvent } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, makeKafka, produce, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { mappingsDir, startWorker } from '../support/worker.js';

let redisServer: RedisServer;
let redis: Redis;

before(async () => {
  redisServer = await startRedis();
  redis = redisServer.client();
});
after(async () => redisServer?.cleanup());

/** A sink that is connected (its offline queue is off: calls before that fail, as in production). */
async function sink(): Promise<RedisSink> {
  const s = new RedisSink({ url: redisServer.url, commandTimeoutMs: 2_000, chunkSize: 100 }, pino({ level: 'silent' }));
  await waitFor(() => s.ping().then(() => true, () => false), { message: 'sink connected' });
  return s;
}

async function seedTag(tag: string, prefix: string, n: number): Promise<string[]> {
  const members = Array.from({ length: n }, (_, i) => `${prefix}:${i}`);
  const p = redis.pipeline();
  for (const m of members) p.set(m, 'cached');
  for (let i = 0; i < n; i += 1000) p.sadd(tag, ...members.slice(i, i + 1000));
  await p.exec();
  return members;
}

async function existing(keys: string[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < keys.length; i += 1000) n += await redis.exists(...keys.slice(i, i + 1000));
  return n;
}

describe('tag purge on a real Redis', { timeout: 60_000 }, () => {
  it('deletes every member and the set, while the application keeps adding members', async () => {
    const tag = uniqueName('category');
    const members = await seedTag(tag, `${tag}:item`, 20_000);
    const s = await sink();
    let racing = true;
    const added: string[] = [];
    const racer = (async () => {
      for (let i = 0; racing && i < 100_000; i++) {
        const k = `${tag}:late:${i}`;
        await redis.set(k, 'cached after the purge began');
        await redis.sadd(tag, k);
        added.push(k);
      }
    })();
    let deleted: number;
    try {
      deleted = await s.purgeTags([tag]);
    } finally {
      racing = false;
      await racer;
    }
    await s.close();
    assert.equal(await existing(members), 0, 'members present before the purge survived it');
    assert.ok(deleted >= members.length);
    assert.equal(await redis.exists(purgingName(tag)), 0, 'the moved-aside set is gone');
    // Members added during the purge are either purged or still tracked by the tag (the second pass gets them).
    const tracked = new Set(await redis.smembers(tag));
    for (const k of added) assert.ok(!(await redis.exists(k)) || tracked.has(k), `${k} is cached but tracked by no tag`);
  });

  it('a purge interrupted half-way (crash) is finished by the next purge of the tag', async () => {
    const tag = uniqueName('category');
    const members = await seedTag(tag, `${tag}:item`, 5_000);
    await redis.rename(tag, purgingName(tag)); // as if a worker died right after moving the set aside
    await redis.sadd(tag, `${tag}:new`);
    await redis.set(`${tag}:new`, 'x');
    const s = await sink();
    await s.purgeTags([tag]);
    await s.close();
    assert.equal(await existing([...members, `${tag}:new`]), 0);
    assert.equal(await redis.exists(tag, purgingName(tag)), 0);
  });

  it('a missing tag is nothing to do; versions are bumped', async () => {
    const s = await sink();
    assert.equal(await s.purgeTags([uniqueName('absent')]), 0);
    const v = uniqueName('ns');
    await s.bumpVersions([v, v]);
    assert.equal(await redis.get(v), '2');
    await s.close();
  });

  it('a tag that is not a set stops with a fatal error (WRONGTYPE)', async () => {
    const tag = uniqueName('notaset');
    await redis.set(tag, 'string');
    const s = await sink();
    await assert.rejects(s.purgeTags([tag]), (e: Error & { fatal?: boolean }) => e.fatal === true && /WRONGTYPE/.test(e.message));
    await s.close();
  });
});

describe('mapping language through the worker', { timeout: 90_000 }, () => {
  let broker: KafkaBroker;
  before(async () => {
    broker = await startKafkaBroker();
  });
  after(async () => broker?.stop());

  it('deletes a second time only what mappings on a delay name: the worker\'s delay, and each mapping\'s own', async () => {
    const prefix = uniqueName('shop');
    const dir = await mappingsDir(`mappings:
  - name: plain
    table: inventory.customers
    keys: ["a:{id}"]
  - name: once
    table: inventory.customers
    keys: ["b:{id}"]
    second_delete_delay: 0
  - name: slow
    table: inventory.customers
    keys: ["c:{id}"]
    second_delete_delay: 300ms
`);
    const kafka = makeKafka(broker.brokers);
    const topic = `${prefix}.inventory.customers`;
    await produce(kafka, topic, [1, 2, 3].map((id) => ({ key: { id }, value: changeEvent('c', { after: { id } }), partition: 0 })));
    const group = uniqueName('g');
    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings: dir, secondDeleteDelay: '100ms' });
    try {
      await waitFor(async () => (await committedOffsets(kafka, group, topic)).get(0) === 3n, { timeoutMs: 30_000, message: 'all committed' });
      assert.equal(stats.get('invalidated', { kind: 'key', pass: 'first' }), 9);
      // a:1-3 after 100 ms and c:1-3 after 300 ms; b:* never (second_delete_delay 0)
      assert.equal(stats.get('invalidated', { kind: 'key', pass: 'second' }), 6);
    } finally {
      await worker.stop(5_000);
    }
  });

  it('purges tags, bumps versions, honours when.changed and applies on_truncate', async () => {
    const prefix = uniqueName('shop');
    const dir = await mappingsDir(`mappings:
  - name: products
    table: inventory.products
    keys: ["product:{id}"]
    tags: ["category:{category_id}"]
    when:
      changed: [price, category_id]
    second_delete_delay: 200ms
  - name: tenant-orders
    table: tenant_*.orders
    keys: ["order:{tenant_id}:{id}"]
    versions: ["ns:orders:{tenant_id}"]
    on_truncate:
      versions: ["ns:orders:all"]
`);
    await seedTag('category:7', 'product:page', 50);
    await redis.mset('product:1', 'x', 'product:2', 'x', 'order:42:5', 'x', 'ns:orders:42', '10', 'ns:orders:all', '3');
    const kafka = makeKafka(broker.brokers);
    const products = `${prefix}.inventory.products`;
    const orders = `${prefix}.tenant_42.orders`;
    await produce(kafka, products, [
      { key: { id: 1 }, value: changeEvent('u', { table: 'products', before: { id: 1, category_id: 7, price: 10 }, after: { id: 1, category_id: 7, price: 12 } }) },
      { key: { id: 2 }, value: changeEvent('u', { table: 'products', before: { id: 2, category_id: 9, price: 5, name: 'a' }, after: { id: 2, category_id: 9, price: 5, name: 'b' } }) },
    ]);
    await produce(kafka, orders, [
      { key: { id: 5 }, value: changeEvent('d', { schema: 'tenant_42', table: 'orders', before: { id: 5, tenant_id: 42 } }) },
      { key: null, value: changeEvent('t', { schema: 'tenant_42', table: 'orders' }) },
    ]);
    const group = uniqueName('g');
    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: `/^${prefix}\\..*/`, group, mappings: dir, secondDeleteDelay: '100ms' });
    try {
      const done = async () => {
        for (const t of [products, orders]) {
          const [c, e] = await Promise.all([committedOffsets(kafka, group, t), endOffsets(kafka, t)]);
          for (const [p, high] of e) if (high > 0n && c.get(p) !== high) return false;
        }
        return true;
      };
      await waitFor(done, { timeoutMs: 30_000, message: 'all committed' });
      assert.equal(await redis.exists('product:1', 'category:7'), 0, 'key and tag set purged');
      assert.equal(await existing(Array.from({ length: 50 }, (_, i) => `product:page:${i}`)), 0, 'tag members purged');
      assert.equal(await redis.get('product:2'), 'x', 'an update that changed no listed column does not fire');
      assert.equal(await redis.exists('order:42:5'), 0);
      assert.equal(await redis.get('ns:orders:42'), '11');
      assert.equal(await redis.get('ns:orders:all'), '4', 'truncate bumped the on_truncate version');
      assert.ok(stats.get('tag_members_deleted') >= 50);
    } finally {
      await worker.stop(5_000);
    }
  });
});
