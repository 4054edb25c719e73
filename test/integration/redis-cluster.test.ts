import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import clusterKeySlot from 'cluster-key-slot';
import pino from 'pino';
import { resolveRedisConnection } from '../../src/config/redis-connection.js';
import { hashSlot, routedToOwnSlot } from '../../src/pipeline/sink/hash-slot.js';
import { RedisSink } from '../../src/pipeline/sink/redis-sink.js';
import { changeEvent } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, makeKafka, produce, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { mappingsDir, startWorker } from '../support/worker.js';

const MAPPING = `mappings:
  - name: items
    table: inventory.items
    keys:
      - "item:{id}"
      - "item:sku:{sku}"
    tags: ["category:{category_id}"]
    versions: ["ns:items"]
`;

let broker: KafkaBroker;
let cluster: RedisCluster;
let kafka: Kafka;
let mappings: string;

before(async () => {
  [broker, cluster] = await Promise.all([startKafkaBroker(), startRedisCluster({ masters: 3 })]);
  kafka = makeKafka(broker.brokers);
  mappings = await mappingsDir(MAPPING);
});
after(async () => {
  await cluster?.cleanup();
  await broker?.stop();
});

async function allCommitted(group: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([committedOffsets(kafka, group, topic), endOffsets(kafka, topic)]);
  for (const [p, high] of end) if (high > 0n && committed.get(p) !== high) return false;
  return true;
}

/** Every key on every master, by SCAN (tests only). */
async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  for (const n of (await cluster.nodes()).filter((x) => x.master)) {
    const c = cluster.node(n.port);
    let cursor = '0';
    let steps = 0;
    do {
      const [next, chunk] = await c.scan(cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...chunk);
    } while (cursor !== '0' && ++steps < 100_000);
  }
  return keys;
}

const itemEvent = (id: number): Record<string, unknown> =>
  changeEvent('u', { table: 'items', before: { id, sku: `s-${id}`, category_id: id % 40 }, after: { id, sku: `s-${id}`, category_id: id % 40 } });

describe('worker against a 3-master Redis Cluster', { timeout: 240_000 }, () => {
  const SLOT_KEYS = ['item:1', 'item:sku:s-77', '{user:42}:profile', 'a{}b', '{}{x}', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}', '{}', 'a{b', '}{a}', 'x{y}z{w}', 'é:ключ', 'ümlaut{é}', '😀{😀}', 'category:7', '{category:7}:purging', ''];

  it('computes the same hash slots as the server (hash tags included)', async () => {
    const node = cluster.node(cluster.ports[0]!);
    for (const key of SLOT_KEYS) {
      assert.equal(hashSlot(key), Number(await node.cluster('KEYSLOT', key)), `slot of "${key}"`);
    }
  });

  it('cluster-key-slot (what ioredis routes with) differs from the server on an empty first hash tag, so it does not replace hashSlot', async () => {
    const node = cluster.node(cluster.ports[0]!);
    const differ: string[] = [];
    for (const key of SLOT_KEYS) if (clusterKeySlot(key) !== Number(await node.cluster('KEYSLOT', key))) differ.push(key);
    // If this fails, cluster-key-slot matches the server and can replace src/pipeline/sink/hash-slot.ts.
    assert.deepEqual(differ, ['{}{x}', 'foo{}{bar}']);
    assert.equal(routedToOwnSlot('foo{}{bar}'), false);
    assert.equal(routedToOwnSlot('{user:42}:profile'), true);
  });

  it('deletes keys ioredis would route to another node (an empty first hash tag) among ordinary keys, without stalling', async () => {
    const redis = cluster.client();
    const keys = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? `odd{}{${i}}` : `plain:${i}`));
    for (const k of keys) await redis.set(k, 'cached');
    const sink = new RedisSink({ connection: resolveRedisConnection(cluster.seeds, { redisCluster: true }, {}), commandTimeoutMs: 2_000, chunkSize: 512 }, pino({ level: 'silent' }));
    try {
      await sink.ping();
      // Before: "All keys in the pipeline should belong to the same slots allocation group", retried forever.
      assert.equal(await sink.unlink(keys), keys.length);
      for (const k of keys) assert.equal(await redis.exists(k), 0, k);
    } finally {
      await sink.close();
    }
  });

  it('deletes keys over many slots and purges tags whose members sit on other nodes, during a slot migration', async (t) => {
    const topic = `${uniqueName('shop')}.inventory.items`;
    const group = uniqueName('g');
    const redis = cluster.client();
    const ids = Array.from({ length: 1500 }, (_, i) => i + 1);
    // Planted values: the keys, the tag sets (members on every node), and keys that must stay.
    for (let i = 0; i < ids.length; i += 250) {
      await Promise.all(ids.slice(i, i + 250).flatMap((id) => [redis.set(`item:${id}`, 'cached'), redis.set(`item:sku:s-${id}`, 'cached')]));
    }
    const members: string[] = [];
    for (let c = 0; c < 40; c++) {
      const pages = Array.from({ length: 25 }, (_, j) => `page:${c}:${j}`);
      members.push(...pages);
      await Promise.all(pages.map((p) => redis.set(p, 'cached')));
      await redis.sadd(`category:${c}`, ...pages);
    }
    const keep = Array.from({ length: 50 }, (_, i) => `keep:${i}`);
    await Promise.all(keep.map((k) => redis.set(k, 'not mapped')));
    const memberSlots = new Set(members.map(hashSlot));
    assert.ok(memberSlots.size > 500, 'tag members spread over many slots');
    const before = await allKeys();
    assert.equal(before.length, ids.length * 2 + members.length + 40 + keep.length);

    const masters = (await cluster.nodes()).filter((n) => n.master);
    const [from, to] = [masters[0]!, masters[1]!];
    const slotsBefore = to.ranges.reduce((n, [a, b]) => n + b - a + 1, 0);

    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: cluster.seeds, redisCluster: true, topics: topic, group, mappings, secondDeleteDelay: '200ms', redisTimeout: '2s' });
    try {
      await waitFor(() => worker.state === 'running', { message: 'worker running' });
      const firstPass = (): number => stats.get('invalidated', { kind: 'key', pass: 'first' });
      await produce(kafka, topic, ids.slice(0, 150).map((id) => ({ key: { id }, value: itemEvent(id) })));
      await waitFor(() => firstPass() >= 300, { timeoutMs: 30_000, message: 'the first events invalidated' });
      // Move 2000 slots (and their keys) while the rest of the stream arrives and is invalidated.
      let migrating = true;
      const migration = cluster.reshard(from.port, to.port, 2000).finally(() => (migrating = false));
      const atStart = firstPass();
      let next = 150;
      while (migrating && next < ids.length) {
        await produce(kafka, topic, ids.slice(next, next + 40).map((id) => ({ key: { id }, value: itemEvent(id) })));
        next += 40;
        await new Promise((r) => setTimeout(r, 150));
      }
      await migration;
      const duringMigration = firstPass() - atStart;
      await produce(kafka, topic, ids.slice(next).map((id) => ({ key: { id }, value: itemEvent(id) })));
      t.diagnostic(`keys invalidated during the migration: ${duringMigration}; redis retries so far: ${stats.get('redis_retries')}`);
      assert.ok(duringMigration > 0, 'keys were invalidated while slots were migrating');
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 90_000, intervalMs: 250, message: 'offsets committed to the end' });
      const slotsAfter = (await cluster.nodes()).find((n) => n.port === to.port)!.ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
      assert.equal(slotsAfter, slotsBefore + 2000, 'the migration moved 2000 slots');
      const left = (await allKeys()).filter((k) => !k.startsWith('keep:') && k !== 'ns:items');
      assert.deepEqual(left.slice(0, 20), [], `${left.length} planted keys left undeleted`);
      for (const k of keep) assert.equal(await redis.get(k), 'not mapped');
      assert.ok(Number(await redis.get('ns:items')) >= 1, 'the version counter was bumped');
      assert.equal(worker.state, 'running');
    } finally {
      await worker.stop(5_000);
    }
  });
});
