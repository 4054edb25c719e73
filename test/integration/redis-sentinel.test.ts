import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, makeKafka, produce, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import { startSentinelSetup, type SentinelSetup } from '../support/redis-sentinel.js';
import { mappingsDir, startWorker } from '../support/worker.js';

let broker: KafkaBroker;
let setup: SentinelSetup;
let kafka: Kafka;
let mappings: string;

before(async () => {
  [broker, setup] = await Promise.all([startKafkaBroker(), startSentinelSetup({ sentinelCount: 2 })]);
  kafka = makeKafka(broker.brokers);
  mappings = await mappingsDir();
});
after(async () => {
  await setup?.cleanup();
  await broker?.stop();
});

async function allCommitted(group: string, topic: string): Promise<boolean> {
  const [committed, end] = await Promise.all([committedOffsets(kafka, group, topic), endOffsets(kafka, topic)]);
  for (const [p, high] of end) if (high > 0n && committed.get(p) !== high) return false;
  return true;
}

describe('worker through Redis Sentinel', { timeout: 180_000 }, () => {
  it('follows a failover mid-stream: every planted key is gone from the new master', async (t) => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const oldMaster = await setup.masterPort();
    const master = setup.node(oldMaster);
    const ids = Array.from({ length: 3000 }, (_, i) => i + 1);
    for (let i = 0; i < ids.length; i += 200) {
      const p = master.pipeline();
      for (const id of ids.slice(i, i + 200)) p.set(`customer:${id}`, 'cached').set(`customer:email:${id}@x`, 'cached');
      await p.exec();
    }
    await master.set('unrelated', 'keep');
    // Every planted key on the replica before the failover (else a promotion could lose a plant, not a delete).
    const replicaPort = setup.dataPorts.find((p) => p !== oldMaster)!;
    await waitFor(async () => (await setup.node(replicaPort).dbsize()) === ids.length * 2 + 1, { timeoutMs: 20_000, message: 'replica holds the planted keys' });

    const { worker, stats } = await startWorker({ brokers: broker.brokers.join(','), redisSentinels: setup.sentinels, redisSentinelMaster: setup.masterName, topics: topic, group, mappings, secondDeleteDelay: '300ms', redisTimeout: '1s', redisWaitReplicas: '1' });
    try {
      await waitFor(() => worker.state === 'running', { message: 'worker running' });
      const firstPass = (): number => stats.get('invalidated', { kind: 'key', pass: 'first' });
      await produce(kafka, topic, ids.slice(0, 200).map((id) => ({ key: { id }, value: customerCreate(id, `${id}@x`) })));
      await waitFor(() => firstPass() >= 400, { timeoutMs: 30_000, message: 'the first events invalidated' });
      // One producer sends a steady stream (20 events every 20 ms) from before the failover to its end.
      const producer = kafka.producer({ allowAutoTopicCreation: true });
      await producer.connect();
      let next = 200;
      const send = async (n: number): Promise<void> => {
        const chunk = ids.slice(next, next + n);
        next += chunk.length;
        if (chunk.length) await producer.send({ topic, messages: chunk.map((id) => ({ key: JSON.stringify({ id }), value: JSON.stringify(customerCreate(id, `${id}@x`)) })) });
      };
      let failover: Promise<number> | undefined;
      let failingOver = true;
      let atStart = 0;
      let f0 = Date.now();
      try {
        for (let round = 0; round < 2_000 && next < ids.length && (failingOver || round < 10); round++) {
          await send(20);
          if (round === 5) {
            await waitFor(() => firstPass() > 400, { timeoutMs: 30_000, message: 'the stream being invalidated' });
            atStart = firstPass();
            f0 = Date.now();
            failover = setup.failover().finally(() => (failingOver = false));
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        await send(ids.length);
      } finally {
        await producer.disconnect();
      }
      assert.ok(failover, 'the failover was started');
      const newMaster = await failover;
      const duringFailover = firstPass() - atStart;
      const failoverMs = Date.now() - f0;
      assert.notEqual(newMaster, oldMaster, 'the sentinels promoted the replica');
      await waitFor(() => allCommitted(group, topic), { timeoutMs: 60_000, intervalMs: 250, message: 'offsets committed to the end' });
      const now = setup.node(newMaster);
      const left: string[] = [];
      for (let i = 0; i < ids.length; i += 200) {
        const batch = ids.slice(i, i + 200).flatMap((id) => [`customer:${id}`, `customer:email:${id}@x`]);
        const exists = await Promise.all(batch.map((k) => now.exists(k)));
        left.push(...batch.filter((_, j) => exists[j] === 1));
      }
      t.diagnostic(`failover ${oldMaster} → ${newMaster} in ${failoverMs} ms; keys invalidated during the failover: ${duringFailover}; redis retries: ${stats.get('redis_retries')}; keys left: ${left.length}`);
      assert.deepEqual(left.slice(0, 20), [], `${left.length} planted keys left on the new master`);
      assert.equal(await now.get('unrelated'), 'keep');
      assert.equal(worker.state, 'running');
    } finally {
      await worker.stop(5_000);
    }
  });
});
