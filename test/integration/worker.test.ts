import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { customerCreate, changeEvent } from '../support/debezium.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, produce, totalCommitted, uniqueName } from '../support/kafka.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { startServices, type Services } from '../support/services.js';
import { mappingsDir, startWorker } from '../support/worker.js';

let services: Services;
let broker: KafkaBroker;
let redisServer: RedisServer;
let redis: Redis;
let kafka: Kafka;
let mappings: string;

before(async () => {
  services = await startServices();
  ({ broker, redisServer, redis, kafka } = services);
  mappings = await mappingsDir();
});
after(async () => services?.stop());

async function allCommitted(group: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([committedOffsets(kafka, group, topic), endOffsets(kafka, topic)]);
  for (const [p, high] of end) if (high > 0n && committed.get(p) !== high) return false;
  return true;
}

describe('worker against real Redis and a Kafka-protocol broker', { timeout: 120_000 }, () => {
  it('deletes the mapped keys of creates, updates and deletes, skips tombstones, and commits to the end', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    await redis.mset('customer:1', 'x', 'customer:email:a@x', 'x', 'customer:2', 'x', 'customer:email:old@x', 'x', 'customer:email:new@x', 'x', 'customer:3', 'x', 'customer:email:c@x', 'x', 'unrelated', 'keep');
    await produce(kafka, topic, [
      { key: { id: 1 }, value: customerCreate(1, 'a@x'), partition: 0 },
      { key: { id: 2 }, value: changeEvent('u', { before: { id: 2, email: 'old@x' }, after: { id: 2, email: 'new@x' } }), partition: 1 },
      { key: { id: 3 }, value: changeEvent('d', { before: { id: 3, email: 'c@x' } }), partition: 2 },
      { key: { id: 3 }, value: null, partition: 2 },
    ]);
    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '100ms' });
    try {
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, message: 'offsets committed to the end' });
      assert.equal(await redis.exists('customer:1', 'customer:email:a@x', 'customer:2', 'customer:email:old@x', 'customer:email:new@x', 'customer:3', 'customer:email:c@x'), 0);
      assert.equal(await redis.get('unrelated'), 'keep');
      assert.equal(stats.get('events'), 3);
      assert.equal(stats.get('skipped_records'), 1);
    } finally {
      await worker.stop(5_000);
    }
  });

  it('the second delete removes a value written back after the first, and the commit waits for it', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const { worker } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '1500ms' });
    try {
      await waitFor(() => worker.state === 'running', { message: 'worker running' });
      await redis.set('customer:10', 'cached');
      await produce(kafka, topic, [{ key: { id: 10 }, value: customerCreate(10, 'ten@x'), partition: 0 }]);
      await waitFor(async () => (await redis.exists('customer:10')) === 0, { timeoutMs: 30_000, intervalMs: 5, message: 'first delete' });
      const firstAt = Date.now();
      await redis.set('customer:10', 'stale value from a slow reader');
      assert.equal((await committedOffsets(kafka, group, topic)).get(0) ?? -1n, -1n, 'nothing committed before the second delete');
      await waitFor(async () => (await redis.exists('customer:10')) === 0, { timeoutMs: 10_000, intervalMs: 10, message: 'second delete' });
      const secondAfter = Date.now() - firstAt;
      assert.ok(secondAfter >= 1_300, `second delete came ${secondAfter} ms after the first`);
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 10_000, message: 'commit after the second delete' });
    } finally {
      await worker.stop(5_000);
    }
  });

  it('commits nothing while Redis is down; after it returns, the keys are deleted and the offsets committed', async () => {
    const own = await startRedis();
    const client = own.client();
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: own.url, topics: topic, group, mappings, secondDeleteDelay: '200ms', redisTimeout: '500ms' });
    try {
      await waitFor(() => worker.state === 'running', { message: 'worker running' });
      const ids = Array.from({ length: 20 }, (_, i) => 100 + i);
      for (const id of ids) await client.set(`customer:${id}`, 'cached');
      await client.set('sentinel', 'not mapped');
      await client.save(); // survives the restart below (the server loads dump.rdb)
      await own.stop();
      await produce(kafka, topic, ids.map((id) => ({ key: { id }, value: customerCreate(id, `${id}@x`) })));
      await waitFor(() => stats.get('redis_retries') >= 3, { timeoutMs: 20_000, message: 'the worker retrying against the dead Redis' });
      assert.equal(totalCommitted(await committedOffsets(kafka, group, topic)), 0n, 'nothing committed while Redis is down');
      await own.restart();
      assert.equal(await client.get('sentinel'), 'not mapped', 'the restarted server loaded the saved keys');
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, message: 'commit after Redis came back' });
      assert.equal(await client.exists(...ids.map((id) => `customer:${id}`)), 0);
    } finally {
      await worker.stop(5_000);
      await own.cleanup();
    }
  });

  it('with --on-error fail, stops on a poison record with a clear error, committing exactly up to it', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    await redis.set('customer:20', 'x');
    await produce(kafka, topic, [
      { key: { id: 20 }, value: customerCreate(20, 'a@x'), partition: 0 },
      { key: { id: 21 }, value: '{"op":"c","after":', partition: 0 },
      { key: { id: 22 }, value: customerCreate(22, 'b@x'), partition: 0 },
    ]);
    const { worker } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '50ms', onError: 'fail' });
    const result = await withTimeout(worker.done, 30_000, 'the worker stopping on the poison record');
    assert.equal(result.state, 'failed');
    assert.match(result.error?.message ?? '', new RegExp(`${topic}/0@1: invalid_json`));
    assert.equal((await committedOffsets(kafka, group, topic)).get(0), 1n);
    assert.equal(await redis.exists('customer:20'), 0);
  });
});
