import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { waitFor } from '../support/processes.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { kafkaAndRedis } from '../support/stack/kafka-and-redis.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * Topics that appear while the worker runs, a /regex/ that matches nothing yet, and readiness while
 * the consumer is down, on the real broker (which, unlike the test mock, creates no topic because a
 * client named it, and whose death makes kafkajs crash and restart its consumer).
 */

const SKIP = stackUnavailable() ?? false;

describe('topics and the consumer on the real broker', { skip: SKIP, timeout: 400_000 }, () => {
  const bed = kafkaAndRedis();

  const worker = (topics: string, group: string): WorkerProcess =>
    new WorkerProcess(
      bed.workerEnv(group, {
        CDC_INVALIDATOR_TOPICS: topics,
        CDC_INVALIDATOR_INITIAL_POSITION: 'earliest',
        CDC_INVALIDATOR_DLQ_CREATE_PARTITIONS: '1',
        CDC_INVALIDATOR_DLQ_CREATE_REPLICATION: '1',
      }),
    );
  async function send(topic: string, ids: number[]): Promise<void> {
    const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({ topic, messages: ids.map((id) => ({ key: JSON.stringify({ id }), value: JSON.stringify(customerCreate(id, `${id}@x`)), partition: 0 })) });
    } finally {
      await producer.disconnect();
    }
  }
  async function topicWith(topic: string, ids: number[]): Promise<void> {
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 1 }]);
    await bed.redis.mset(...ids.flatMap((id) => [`customer:${id}`, 'cached']));
    await send(topic, ids);
  }

  it('a topic created while the worker runs and matched by its /regex/ is consumed within the refresh interval, from its earliest offset, without a restart', async () => {
    const prefix = uniqueName('re');
    const group = uniqueName('g');
    await topicWith(`${prefix}.inventory.customers`, [1]);
    const w = worker(`/^${prefix}\\..*/`, group);
    await w.start();
    try {
      await waitCommittedTo(bed.kafka, group, `${prefix}.inventory.customers`, new Map([[0, 1n]]), { timeoutMs: 30_000, message: `the first topic\n${w.output}` });
      const later = `${prefix}.inventory.customers_v2`;
      const at = Date.now();
      await topicWith(later, [2, 3]);
      await waitCommittedTo(bed.kafka, group, later, new Map([[0, 2n]]), { timeoutMs: 60_000, message: `the new topic committed\n${w.output}` });
      const seconds = (Date.now() - at) / 1000;
      assert.equal(await bed.redis.exists('customer:2', 'customer:3'), 0, 'the records written before the new topic was found were skipped');
      assert.match(w.output, /"msg":"new matching topics: re-subscribing/);
      assert.ok(seconds < 30, `picked up after ${seconds} s`);
      assert.equal((await w.readyz()).status, 200);
    } finally {
      assert.equal(await w.stop(), 0, w.output);
    }
  });

  it('a /regex/ that matches no topic: one clear line naming the setting, not ready, no stack trace; the first matching topic is then consumed', async () => {
    const prefix = uniqueName('none');
    const group = uniqueName('g');
    const w = worker(`/^${prefix}\\..*/`, group);
    // Not ready while nothing matches: start() (which waits for 200) cannot be used here.
    const start = w.start(120_000);
    await waitFor(() => w.output.includes('no topic matches'), { timeoutMs: 30_000, message: () => `the waiting line\n${w.output}` });
    try {
      const line = JSON.parse(w.output.split('\n').find((l) => l.includes('no topic matches'))!) as Record<string, unknown>;
      assert.equal(line['msg'], `no topic matches --topics /^${prefix}\\..*/ yet: waiting for one to appear (looked for every 1 s); not ready meanwhile`);
      assert.deepEqual((await w.readyz()).notReady, ['consumer']);
      assert.doesNotMatch(w.output, /Number of partitions is invalid|\n\s+at .+:\d+:\d+/);
      await topicWith(`${prefix}.inventory.customers`, [7]);
      await start; // ready: partitions assigned
      await waitCommittedTo(bed.kafka, group, `${prefix}.inventory.customers`, new Map([[0, 1n]]), { timeoutMs: 30_000, message: `the topic that appeared\n${w.output}` });
      assert.equal(await bed.redis.exists('customer:7'), 0);
    } finally {
      await start.catch(() => undefined);
      assert.equal(await w.stop(), 0, w.output);
    }
  });

  it('/readyz is 503 (consumer) while the consumer is down and restarting, 200 again once it rejoined', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    await topicWith(topic, [40]);
    const w = worker(topic, group);
    await w.start();
    try {
      await waitCommittedTo(bed.kafka, group, topic, new Map([[0, 1n]]), { timeoutMs: 30_000, message: `committed\n${w.output}` });
      const node = bed.kafkaStack.nodes[0]!;
      await node.kill();
      try {
        await waitFor(async () => (await w.readyz()).notReady.includes('consumer'), { timeoutMs: 120_000, intervalMs: 250, message: () => `/readyz 503 with consumer\n${w.output.slice(-4000)}` });
        assert.equal((await w.readyz()).status, 503);
      } finally {
        await node.start();
      }
      await waitFor(async () => (await w.readyz()).status === 200, { timeoutMs: 120_000, intervalMs: 250, message: () => `/readyz 200 again\n${w.output.slice(-4000)}` });
      await bed.redis.set('customer:41', 'cached');
      await send(topic, [41]);
      await waitCommittedTo(bed.kafka, group, topic, await endOffsets(bed.kafka, topic), { timeoutMs: 60_000, message: `consuming again\n${w.output.slice(-4000)}` });
      assert.equal(await bed.redis.exists('customer:41'), 0);
    } finally {
      assert.equal(await w.stop(), 0, w.output.slice(-4000));
    }
  });
});
