import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { encodeEnvelope } from '../../src/client/envelope.js';
import { changeEvent } from '../support/debezium.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, produce, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import type { RedisServer } from '../support/redis-server.js';
import { startServices, type Services } from '../support/services.js';
import { mappingsDir, startWorker } from '../support/worker.js';

/**
 * The inspector (--verify-sample, --verify-after) on the real worker and a real Redis: after a change's
 * second delete, values written back later are read back; one filled from an older row version (by the
 * mapping's version column, or by xmin = source.txId, modulo 2^32) is counted stale and deleted.
 */
const MAPPINGS = `mappings:
  - name: by-id
    table: inventory.customers
    keys: ["customer:{id}"]
    version_column: version
  - name: by-email
    table: inventory.customers
    keys: ["customer:email:{email}"]
    version_column: xmin
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

const value = (v: string): string => encodeEnvelope({ filledAt: Date.now(), expiresAt: Date.now() + 60_000, fillMs: 1, rowVersion: v, notFound: false }, '{"id":1}');

function update(id: number, version: number, txId: number): Record<string, unknown> {
  const row = { id, email: `${id}@x`, version };
  const e = changeEvent('u', { before: { ...row, version: version - 1 }, after: row });
  (e['source'] as Record<string, unknown>)['txId'] = txId;
  return e;
}

async function allCommitted(group: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([committedOffsets(kafka, group, topic), endOffsets(kafka, topic)]);
  for (const [p, high] of end) if (high > 0n && committed.get(p) !== high) return false;
  return true;
}

describe('the inspector on the real worker and Redis', { timeout: 120_000 }, () => {
  it('after the second delete: stale values counted and deleted, fresh ones kept, others reported by presence', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const { worker, stats } = await startWorker({
      brokers: broker.brokers.join(','),
      redis: redisServer.url,
      topics: topic,
      group,
      mappings,
      secondDeleteDelay: '200ms',
      verifySample: '1',
      verifyAfter: '2s',
    });
    try {
      await waitFor(() => worker.state === 'running', { message: 'worker running' });
      await produce(kafka, topic, [
        { key: { id: 1 }, value: update(1, 5, 3), partition: 0 }, // txId 3: the counter wrapped since 4294967295
        { key: { id: 2 }, value: update(2, 3, 7), partition: 0 },
        { key: { id: 3 }, value: update(3, 9, 8), partition: 0 },
        { key: { id: 4 }, value: update(4, 2, 9), partition: 0 },
      ]);
      // Committed = both passes acknowledged; the read-backs come 2 s after that. Slow readers write back now.
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, intervalMs: 20, message: 'both passes and the commit' });
      await redis.mset(
        'customer:1', value('4'), // an older version: stale
        'customer:2', value('3'), // the change's own version: fresh
        'customer:3', 'a value of some other writer', // no envelope: presence only
        'customer:email:1@x', value('4294967295'), // xmin from before the wrap: older than txId 3
        'customer:email:2@x', value('7'), // xmin = the change's txId: fresh
        'customer:email:3@x', 'cdc1-lease:t0ken', // a fill in progress
      );
      await waitFor(() => stats.get('verify_checks') >= 8, { timeoutMs: 20_000, message: () => `8 read-backs (${JSON.stringify(stats.snapshot())})` });
      const outcomes = (mapping: string): Record<string, number> =>
        Object.fromEntries(['fresh', 'stale', 'absent', 'lease', 'no_envelope', 'unknown', 'error'].map((o): [string, number] => [o, stats.get('verify_checks', { mapping, outcome: o })]).filter(([, n]) => n !== 0));
      assert.deepEqual(outcomes('by-id'), { fresh: 1, stale: 1, absent: 1, no_envelope: 1 });
      assert.deepEqual(outcomes('by-email'), { fresh: 1, stale: 1, absent: 1, lease: 1 });
      assert.equal(await redis.exists('customer:1'), 0, 'the stale value was deleted');
      assert.equal(await redis.exists('customer:email:1@x'), 0, 'the stale value (xmin) was deleted');
      assert.match((await redis.get('customer:2')) ?? '', /^cdc1:\{[^\n]*"v":"3"/, 'the fresh value is kept');
      assert.equal(await redis.get('customer:3'), 'a value of some other writer', 'a value without an envelope is never deleted');
      assert.equal(await redis.get('customer:email:3@x'), 'cdc1-lease:t0ken');
      assert.equal(stats.get('verify_dropped'), 0);
    } finally {
      await worker.stop(5_000);
    }
  });

  it('keeps at most --verify-max-pending checks; the rest are dropped and counted', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const { worker, stats } = await startWorker({
      brokers: broker.brokers.join(','),
      redis: redisServer.url,
      topics: topic,
      group,
      mappings,
      secondDeleteDelay: '0',
      verifySample: '1',
      verifyAfter: '10m',
      verifyMaxPending: '5',
    });
    try {
      await produce(kafka, topic, Array.from({ length: 20 }, (_, i) => ({ key: { id: 100 + i }, value: update(100 + i, 2, 50 + i), partition: 0 })));
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 30_000, message: 'the batch committed' });
      await waitFor(() => stats.get('verify_dropped') === 35, { timeoutMs: 5_000, message: () => `35 dropped (${stats.get('verify_dropped')})` });
      assert.equal(stats.get('verify_checks'), 0, 'nothing checked before --verify-after');
    } finally {
      await worker.stop(5_000);
    }
  });
});
