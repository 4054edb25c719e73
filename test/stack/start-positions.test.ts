import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { changeEvent, customerCreate } from '../support/debezium.js';
import { committedOffsets, endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { kafkaAndRedis } from '../support/stack/kafka-and-redis.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * Where a group starts reading, on the real broker: ListOffsets by time, CreatePartitions,
 * DeleteRecords (which moves the log start like retention does) and OFFSET_OUT_OF_RANGE exist there.
 * A group's very first start follows --initial-position; every other partition without a committed
 * offset starts at the earliest; a committed offset below the log start is reported as a loss.
 */

const SKIP = stackUnavailable() ?? false;

const MAPPINGS = `mappings:
  - name: customers
    table: inventory.customers
    keys: ["customer:{id}"]
  - name: orders
    table: inventory.orders
    keys: ["order:{id}"]
`;
const HOUR = 3_600_000;

describe('start positions on the real broker', { skip: SKIP, timeout: 400_000 }, () => {
  const bed = kafkaAndRedis({ mappings: MAPPINGS });

  const worker = (selection: Record<string, string>, group: string, extra: Record<string, string> = {}): WorkerProcess =>
    new WorkerProcess(bed.workerEnv(group, { CDC_INVALIDATOR_DLQ_CREATE_PARTITIONS: '1', CDC_INVALIDATOR_DLQ_CREATE_REPLICATION: '1', ...selection, ...extra }));

  async function send(topic: string, records: { id: number; partition?: number; timestamp?: number; table?: string }[]): Promise<void> {
    const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({
        topic,
        messages: records.map((r) => ({
          key: JSON.stringify({ id: r.id }),
          value: JSON.stringify(r.table ? changeEvent('c', { table: r.table, after: { id: r.id } }) : customerCreate(r.id, `${r.id}@x`)),
          partition: r.partition ?? 0,
          ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
        })),
      });
    } finally {
      await producer.disconnect();
    }
  }
  async function plant(keys: string[]): Promise<void> {
    await bed.redis.mset(...keys.flatMap((k) => [k, 'cached']));
  }
  async function gone(keys: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const k of keys) if (!(await bed.redis.exists(k))) out.push(k);
    return out;
  }
  const customers = (ids: number[]) => ids.map((i) => `customer:${i}`);

  it('a new group starts at --initial-position (latest by default, or a time), said loudly; what comes later is invalidated', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 1 }]);
    const now = Date.now();
    await send(topic, [1, 2, 3].map((id) => ({ id, timestamp: now - 3 * HOUR })).concat([4, 5].map((id) => ({ id, timestamp: now - HOUR }))));

    for (const [initial, expectGone] of [
      [undefined, [6]],
      ['2h', [4, 5, 6]],
    ] as const) {
      await plant(customers([1, 2, 3, 4, 5, 6]));
      const group = uniqueName('g');
      const w = worker({ CDC_INVALIDATOR_TOPICS: topic }, group, initial ? { CDC_INVALIDATOR_INITIAL_POSITION: initial } : {});
      await w.start();
      try {
        if (initial === undefined) await send(topic, [{ id: 6 }]);
        await waitCommittedTo(bed.kafka, group, topic, await endOffsets(bed.kafka, topic), { timeoutMs: 30_000, message: `committed to the end\n${w.output}` });
        assert.deepEqual(await gone(customers([1, 2, 3, 4, 5, 6])), customers([...expectGone]), `--initial-position ${initial ?? '(default)'}`);
        assert.match(w.output, new RegExp(`"level":40.*first start of group ${group} \\(no committed offsets\\): starting at (the latest offsets|the first records since).*records already in the topics are NOT invalidated`));
      } finally {
        assert.equal(await w.stop(), 0, w.output);
      }
    }
  });

  it('a group that has offsets reads new partitions and a new topic under its prefix from their earliest offset', async () => {
    const prefix = uniqueName('p');
    const customersTopic = `${prefix}.inventory.customers`;
    const ordersTopic = `${prefix}.inventory.orders`;
    await bed.kafkaStack.createTopics([{ topic: customersTopic, numPartitions: 1 }]);
    const group = uniqueName('g');
    const first = worker({ CDC_INVALIDATOR_TOPIC_PREFIX: prefix }, group);
    await first.start();
    try {
      assert.match(first.output, new RegExp(`topics that do not exist \\(yet\\): each is consumed once it appears.*${ordersTopic}|${ordersTopic}.*topics that do not exist \\(yet\\)`));
      await send(customersTopic, [{ id: 10 }]);
      await waitCommittedTo(bed.kafka, group, customersTopic, await endOffsets(bed.kafka, customersTopic), { timeoutMs: 30_000, message: `the first worker's commit\n${first.output}` });
    } finally {
      assert.equal(await first.stop(), 0, first.output);
    }
    // While the group is stopped: two partitions added to the topic, a table's topic created, records in both.
    const admin = bed.kafka.admin();
    await admin.connect();
    try {
      await admin.createPartitions({ topicPartitions: [{ topic: customersTopic, count: 3 }] });
    } finally {
      await admin.disconnect();
    }
    await bed.kafkaStack.createTopics([{ topic: ordersTopic, numPartitions: 1 }]);
    await send(customersTopic, [{ id: 11, partition: 1 }, { id: 12, partition: 2 }]);
    await send(ordersTopic, [{ id: 13, table: 'orders' }]);
    await plant([...customers([11, 12]), 'order:13']);

    const second = worker({ CDC_INVALIDATOR_TOPIC_PREFIX: prefix }, group);
    await second.start();
    try {
      await waitCommittedTo(bed.kafka, group, customersTopic, await endOffsets(bed.kafka, customersTopic), { timeoutMs: 30_000, message: `new partitions committed\n${second.output}` });
      await waitCommittedTo(bed.kafka, group, ordersTopic, await endOffsets(bed.kafka, ordersTopic), { timeoutMs: 30_000, message: `the new topic committed\n${second.output}` });
      assert.deepEqual(await gone([...customers([11, 12]), 'order:13']), [...customers([11, 12]), 'order:13'], 'records of new partitions or a new topic were skipped');
      assert.match(second.output, /the group has committed offsets: it resumes from them; partitions without one start at the earliest offset/);
      assert.doesNotMatch(second.output, /first start of group/);
    } finally {
      assert.equal(await second.stop(), 0, second.output);
    }
  });

  it('a committed offset below the log start: the loss is logged at error with the partition and the count, counted, and consumption goes on at the earliest offset', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 1 }]);
    const ids = Array.from({ length: 10 }, (_, i) => 20 + i);
    await send(topic, ids.map((id) => ({ id })));
    const group = uniqueName('g');
    const admin = bed.kafka.admin();
    await admin.connect();
    try {
      // The group read 0–2; then 0–6 were removed (DeleteRecords moves the log start as retention does).
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '3' }] });
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '7' }] });
    } finally {
      await admin.disconnect();
    }
    await plant(customers(ids));
    const w = worker({ CDC_INVALIDATOR_TOPICS: topic }, group);
    await w.start();
    try {
      await waitCommittedTo(bed.kafka, group, topic, new Map([[0, 10n]]), { timeoutMs: 30_000, message: `committed to the end\n${w.output}` });
      assert.deepEqual(await gone(customers(ids)), customers([27, 28, 29]), 'the records still there were skipped (kafkajs reset to the latest offset)');
      const line = w.output.split('\n').find((l) => l.includes('records lost to retention'));
      assert.ok(line, `no error line about the loss\n${w.output}`);
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry['level'], 50);
      assert.equal(entry['topic'], topic);
      assert.equal(entry['partition'], 0);
      assert.equal(entry['lost'], 4);
      assert.equal(await w.metric('cdc_invalidator_records_lost_to_retention_total', { topic, partition: '0' }), 4);
      assert.deepEqual(await committedOffsets(bed.kafka, group, topic), new Map([[0, 10n]]));
    } finally {
      assert.equal(await w.stop(), 0, w.output);
    }
  });
});
