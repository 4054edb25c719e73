import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { makeKafka, produce, uniqueName } from '../support/kafka.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';
import { WorkerProcess } from '../support/worker-process.js';

let broker: KafkaBroker;
let kafka: Kafka;
let redisServer: RedisServer;
before(async () => {
  [broker, redisServer] = await Promise.all([startKafkaBroker(), startRedis()]);
  kafka = makeKafka(broker.brokers);
});
after(async () => {
  await redisServer?.cleanup();
  await broker?.stop();
});

describe('tap', { timeout: 60_000 }, () => {
  it('prints what the newest events would invalidate, then stops at --limit', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    await produce(kafka, topic, [{ key: { id: 1 }, value: customerCreate(1, 'old@x') }]); // before the tap: not shown
    const child = spawnCli(['tap', '--brokers', broker.brokers.join(','), '--topics', topic, '--mappings', await mappingsDir(), '--limit', '2', '--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s']);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.resume();
    try {
      let id = 100;
      await waitFor(
        async () => {
          await produce(kafka, topic, [{ key: { id }, value: customerCreate(id, `${id}@x`) }]);
          id++;
          return out.split('\n').filter(Boolean).length >= 2;
        },
        { timeoutMs: 40_000, intervalMs: 500, message: 'two tapped events' },
      );
      assert.equal(await withTimeout(exitOf(child), 15_000, 'tap exits after --limit'), 0);
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { table: string; op: string; keys: string[] });
      assert.equal(lines.length, 2);
      for (const l of lines) {
        assert.equal(l.table, 'inventory.customers');
        assert.equal(l.op, 'c');
        assert.match(l.keys[0]!, /^customer:1\d\d$/);
        assert.ok(!l.keys.includes('customer:1'), 'records from before the tap are not shown');
      }
    } finally {
      await stopProcess(child, 'SIGKILL');
    }
  });

  it('--worker-metrics prints what each pass of the live worker removed, per mapping, on stderr', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const mappings = await mappingsDir();
    const redis = redisServer.client();
    const worker = new WorkerProcess({
      CDC_INVALIDATOR_BROKERS: broker.brokers.join(','),
      CDC_INVALIDATOR_TOPICS: topic,
      CDC_INVALIDATOR_GROUP: uniqueName('g'),
      CDC_INVALIDATOR_REDIS: redisServer.url,
      CDC_INVALIDATOR_MAPPINGS: mappings,
      CDC_INVALIDATOR_SECOND_DELETE_DELAY: '200ms',
      CDC_INVALIDATOR_FROM_BEGINNING: 'true',
      CDC_INVALIDATOR_SESSION_TIMEOUT: '6s',
      CDC_INVALIDATOR_HEARTBEAT_INTERVAL: '500ms',
      CDC_INVALIDATOR_REBALANCE_TIMEOUT: '6s',
    });
    await produce(kafka, topic, [{ key: { id: 1 }, value: customerCreate(1, 'one@x') }]);
    await worker.start();
    const tap = spawnCli(['tap', '--brokers', broker.brokers.join(','), '--topics', topic, '--mappings', mappings, '--worker-metrics', worker.metricsUrl, '--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s']);
    let out = '';
    let err = '';
    tap.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    tap.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      let id = 100;
      await waitFor(
        async () => {
          await produce(kafka, topic, [{ key: { id }, value: customerCreate(id, `${id}@x`) }]);
          id++;
          return out.includes('"keys"');
        },
        { timeoutMs: 40_000, intervalMs: 500, message: 'tap reading' },
      );
      await redis.mset('customer:555', 'cached', 'customer:email:555@x', 'cached');
      await produce(kafka, topic, [{ key: { id: 555 }, value: customerCreate(555, '555@x') }]);
      await waitFor(async () => (await worker.metric('cdc_invalidator_first_pass_hits_total', { mapping: 'customers', kind: 'key' })) >= 2, { timeoutMs: 30_000, message: 'the worker found both keys cached' });
      await redis.set('customer:555', 'written back');
      tap.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(tap), 15_000, 'tap exits on SIGTERM'), 0);
      const lines = err.split('\n').filter((l) => l.startsWith('passes customers: '));
      assert.ok(lines.length >= 1, `no passes line on stderr:\n${err}`);
      const last = lines[lines.length - 1]!;
      assert.match(last, /first-pass hits \+\d+ \(total ([2-9]|\d\d+)\)/, last);
      assert.match(last, /second-pass removals \+\d+ \(total \d+/, last);
      assert.equal(await worker.stop(), 0);
    } finally {
      await stopProcess(tap, 'SIGKILL');
      await worker.stop().catch(() => undefined);
      redis.disconnect();
    }
  });
});
