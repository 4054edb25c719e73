import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { changeEvent } from '../support/debezium.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, produce, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import type { RedisServer } from '../support/redis-server.js';
import { startServices, type Services } from '../support/services.js';
import { mappingsDir, startWorker } from '../support/worker.js';

/**
 * What each pass removed, per mapping, from UNLINK's replies on a real Redis: the first pass counts
 * the keys that were cached, the second pass the values written back in between. Two mappings on one
 * table (one on the worker's delay, one with its own) and a key both name.
 */
const MAPPINGS = `mappings:
  - name: by-id
    table: inventory.customers
    keys: ["customer:{id}", "shared:{id}"]
  - name: by-email
    table: inventory.customers
    keys: ["customer:email:{email}", "shared:{id}"]
    second_delete_delay: 400ms
`;

let services: Services;
let broker: KafkaBroker;
let redisServer: RedisServer;
let redis: Redis;
let kafka: Kafka;
let mappings: string;

before(async () => {
  services = await startServices();
  ({ broker, redisServer, redis, kafka } = services);
  mappings = await mappingsDir(MAPPINGS);
});
after(async () => services?.stop());

async function allCommitted(group: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([committedOffsets(kafka, group, topic), endOffsets(kafka, topic)]);
  for (const [p, high] of end) if (high > 0n && committed.get(p) !== high) return false;
  return true;
}

describe('first-pass hits and second-pass removals per mapping (real Redis)', { timeout: 120_000 }, () => {
  it('counts the keys each pass found, by the mapping that named them first', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redis: redisServer.url, topics: topic, group, mappings, secondDeleteDelay: '1200ms' });
    try {
      await waitFor(() => worker.state === 'running', { message: 'worker running' });
      // Cached: both of customer 1's id keys and its email key; customer 2 nothing but its email key.
      await redis.mset('customer:1', 'x', 'shared:1', 'x', 'customer:email:a@x', 'x', 'customer:email:b@x', 'x');
      await produce(kafka, topic, [
        { key: { id: 1 }, value: changeEvent('u', { before: { id: 1, email: 'a@x' }, after: { id: 1, email: 'a@x' } }), partition: 0 },
        { key: { id: 2 }, value: changeEvent('u', { before: { id: 2, email: 'b@x' }, after: { id: 2, email: 'b@x' } }), partition: 0 },
      ]);
      await waitFor(async () => (await redis.exists('customer:1', 'shared:1', 'customer:email:a@x', 'customer:email:b@x')) === 0, { timeoutMs: 30_000, intervalMs: 5, message: 'first deletes' });
      // Slow readers write back: customer:1 (by-id, 1.2 s) and customer:email:a@x (by-email, 0.4 s).
      await redis.mset('customer:1', 'stale', 'customer:email:a@x', 'stale');
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, message: 'both second passes and the commit' });
      assert.equal(await redis.exists('customer:1', 'customer:email:a@x'), 0, 'the second passes removed the write-backs');

      assert.equal(stats.get('first_pass_hits', { mapping: 'by-id', kind: 'key' }), 2, 'customer:1 and shared:1 (named by by-id first)');
      assert.equal(stats.get('first_pass_hits', { mapping: 'by-email', kind: 'key' }), 2, 'customer:email:a@x and b@x');
      assert.equal(stats.get('second_pass_removals', { mapping: 'by-id', kind: 'key' }), 1);
      assert.equal(stats.get('second_pass_removals', { mapping: 'by-email', kind: 'key' }), 1);
      assert.equal(stats.get('invalidated', { kind: 'key', pass: 'first' }), 6, 'customer:1, shared:1, customer:2, shared:2 and two email keys, once each');
    } finally {
      await worker.stop(5_000);
    }
  });
});
