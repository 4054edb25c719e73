import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { customerCreate, changeEvent } from '../support/debezium.js';
import { committedOffsets, endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { kafkaAndRedis } from '../support/stack/kafka-and-redis.js';
import { exitOf, spawnCli } from '../support/worker.js';
import { WorkerProcess } from '../support/worker-process.js';

/**
 * Topic behaviour only a real broker has: a compacted topic (offsets with gaps, older versions of a
 * key and tombstones removed by the log cleaner) consumed and replayed from the beginning, and the
 * consumer-lag gauge against the broker's real end offsets while a backlog drains.
 */

const SKIP = stackUnavailable() ?? false;

const MAPPINGS = `mappings:
  - name: customers
    table: inventory.customers
    keys: ["customer:{id}", "customer:email:{email}"]
`;

describe('compacted topics and consumer lag on the real broker', { skip: SKIP, timeout: 300_000 }, () => {
  const bed = kafkaAndRedis({ mappings: MAPPINGS });

  /** Records each consumer would read from the beginning (after compaction: fewer than produced). */
  async function readAll(topic: string): Promise<{ offset: bigint; key: string; value: string | null }[]> {
    const out: { offset: bigint; key: string; value: string | null }[] = [];
    const end = await endOffsets(bed.kafka, topic);
    const total = [...end.values()].reduce((a, b) => a + b, 0n);
    const consumer = bed.kafka.consumer({ groupId: uniqueName('peek') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let last = -1n;
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push({ offset: BigInt(message.offset), key: message.key!.toString(), value: message.value?.toString() ?? null });
        last = BigInt(message.offset);
      },
    });
    try {
      await waitFor(() => last === total - 1n, { timeoutMs: 30_000, intervalMs: 50, message: `reading ${topic} to its end` });
    } finally {
      await consumer.disconnect();
    }
    return out;
  }

  it('a compacted topic: the worker reads across the gaps compaction left, invalidates every surviving version, commits to the end; replay does the same', async () => {
    const topic = `${uniqueName('compact')}.inventory.customers`;
    await bed.kafkaStack.createTopics([
      {
        topic,
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.ms', value: '200' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'min.compaction.lag.ms', value: '0' },
          { name: 'delete.retention.ms', value: '0' },
        ],
      },
    ]);
    // Three versions of each of 40 customers (the email changes), then a delete + tombstone of ten.
    const producer = bed.kafka.producer();
    await producer.connect();
    for (let v = 0; v < 3; v++) {
      await producer.send({ topic, messages: Array.from({ length: 40 }, (_, id) => ({ key: JSON.stringify({ id }), value: JSON.stringify(customerCreate(id, `v${v}-${id}@x`)) })) });
      await new Promise((r) => setTimeout(r, 300)); // each round in segments of its own
    }
    const deleted = Array.from({ length: 10 }, (_, i) => i);
    await producer.send({
      topic,
      messages: deleted.flatMap((id) => [
        { key: JSON.stringify({ id }), value: JSON.stringify(changeEvent('d', { before: { id, first_name: 'F', last_name: 'L', email: `v2-${id}@x` } })) },
        { key: JSON.stringify({ id }), value: null },
      ]),
    });
    // Records after the last ones keep the segments above rolling, so the cleaner may compact them.
    const produced = 120 + deleted.length * 2;
    let tail = 0;
    await waitFor(
      async () => {
        await producer.send({ topic, messages: [{ key: JSON.stringify({ id: 1000 + (tail % 5) }), value: JSON.stringify(customerCreate(1000 + (tail % 5), `tail-${tail}@x`)) }] });
        tail++;
        const records = await readAll(topic);
        return records.length < produced; // the cleaner removed older versions: offsets now have gaps
      },
      { timeoutMs: 90_000, intervalMs: 1_000, message: 'the log cleaner compacting the topic' },
    );
    await producer.disconnect();
    const records = await readAll(topic);
    const gaps = records.filter((r, i) => i > 0 && r.offset !== records[i - 1]!.offset + 1n).length;
    const end = await endOffsets(bed.kafka, topic);
    // What the compacted log still names: every surviving record's keys.
    const surviving = new Set<string>();
    for (const r of records) {
      if (r.value === null) continue;
      const v = JSON.parse(r.value) as { before: { id: number; email: string } | null; after: { id: number; email: string } | null };
      const row = v.after ?? v.before!;
      surviving.add(`customer:${row.id}`).add(`customer:email:${row.email}`);
    }
    const keys = [...surviving];
    const plant = async (): Promise<void> => {
      const p = bed.redis.pipeline();
      for (const k of keys) p.set(k, 'x');
      await p.exec();
    };
    await plant();

    const group = uniqueName('g');
    const run = spawnCli(['run', '--brokers', bed.kafkaStack.brokers.join(','), '--topics', topic, '--group', group, '--mappings', bed.mappings, '--redis', bed.redisServer.url, '--from-beginning', '--dlq-create-partitions', '1', '--dlq-create-replication', '1', '--second-delete-delay', '100ms', '--commit-interval', '50ms', '--session-timeout', '6s', '--heartbeat-interval', '500ms', '--log-level', 'warn']);
    let log = '';
    run.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    run.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitCommittedTo(bed.kafka, group, topic, end, { timeoutMs: 60_000, message: `the worker committing past the gaps to the end\n${log}` });
      assert.equal(await bed.redis.exists(...keys), 0, 'every key the compacted log names is invalidated');
      run.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(run), 30_000, 'a clean exit'), 0, log);
    } finally {
      run.kill('SIGKILL');
    }

    await plant();
    const replay = spawnCli(['replay', '--brokers', bed.kafkaStack.brokers.join(','), '--topics', topic, '--mappings', bed.mappings, '--redis', bed.redisServer.url, '--from', 'earliest', '--to', 'latest', '--second-delete-delay', '0', '--log-level', 'warn']);
    let out = '';
    replay.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    replay.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    assert.equal(await withTimeout(exitOf(replay), 60_000, 'replay of the compacted topic'), 0, out);
    assert.equal(await bed.redis.exists(...keys), 0, 'the replay invalidated every key the compacted log names');
    console.log(`# compacted topic: ${produced + tail} records produced, ${records.length} left after compaction, ${gaps} offset gaps, ${keys.length} keys`);
  });

  it('consumer lag: the gauge follows the real end offsets while a backlog drains, and is 0 at the end', async () => {
    const topic = `${uniqueName('lag')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 2 }]);
    const producer = bed.kafka.producer();
    await producer.connect();
    for (let b = 0; b < 20; b++) {
      await producer.send({ topic, messages: Array.from({ length: 1_000 }, (_, i) => ({ key: JSON.stringify({ id: b * 1_000 + i }), value: JSON.stringify(customerCreate(b * 1_000 + i, `${b}-${i}@x`)) })) });
    }
    await producer.disconnect();
    const end = await endOffsets(bed.kafka, topic);
    const group = uniqueName('g');
    const worker = new WorkerProcess({
      CDC_INVALIDATOR_BROKERS: bed.kafkaStack.brokers.join(','),
      CDC_INVALIDATOR_GROUP: group,
      CDC_INVALIDATOR_TOPICS: topic,
      CDC_INVALIDATOR_REDIS: bed.redisServer.url,
      CDC_INVALIDATOR_MAPPINGS: bed.mappings,
      CDC_INVALIDATOR_FROM_BEGINNING: 'true',
      CDC_INVALIDATOR_DLQ_CREATE_PARTITIONS: '1',
      CDC_INVALIDATOR_DLQ_CREATE_REPLICATION: '1',
      CDC_INVALIDATOR_TOPIC_REFRESH_INTERVAL: '1s',
      CDC_INVALIDATOR_CONCURRENCY: '1',
      CDC_INVALIDATOR_LOG_LEVEL: 'warn',
    });
    await worker.start();
    try {
      const samples: { partition: number; gauge: number; real: bigint }[] = [];
      const deadline = Date.now() + 60_000;
      for (;;) {
        for (const p of [0, 1]) {
          const gauge = await worker.metric('cdc_invalidator_consumer_lag', { topic, partition: String(p) });
          const committed = (await committedOffsets(bed.kafka, group, topic)).get(p) ?? 0n;
          samples.push({ partition: p, gauge, real: end.get(p)! - (committed > 0n ? committed : 0n) });
        }
        const done = [...end].every(([p]) => samples.some((s) => s.partition === p && s.real === 0n)) || (await committedOffsets(bed.kafka, group, topic)).get(0) === end.get(0);
        if (done && samples.length > 4) break;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await waitCommittedTo(bed.kafka, group, topic, end, { timeoutMs: 60_000, message: `the backlog drained\n${worker.output}` });
      // The gauge counts records past the last batch processed, from the end offset the fetch saw: never
      // more than the group's lag (processing runs ahead of commits), and above 0 while the backlog drained.
      for (const s of samples) assert.ok(s.gauge <= Number(s.real), `gauge ${s.gauge} > real lag ${s.real} on partition ${s.partition}`);
      assert.ok(samples.some((s) => s.gauge > 0), `the gauge showed the backlog: ${JSON.stringify(samples.slice(0, 6), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
      await waitFor(async () => (await Promise.all([0, 1].map((p) => worker.metric('cdc_invalidator_consumer_lag', { topic, partition: String(p) })))).every((g) => g === 0), {
        timeoutMs: 10_000,
        message: 'the gauge at 0 once everything is consumed',
      });
      console.log(`# consumer lag: ${samples.length} samples, largest gauge ${Math.max(...samples.map((s) => s.gauge))}, end offsets ${[...end.values()].join('/')}`);
      assert.equal(await worker.stop(), 0, worker.output);
    } finally {
      await worker.stop().catch(() => undefined);
    }
  });
});
