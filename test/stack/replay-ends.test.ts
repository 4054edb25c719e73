import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { committedOffsets, uniqueName } from '../support/kafka.js';
import { withTimeout } from '../support/processes.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { kafkaAndRedis } from '../support/stack/kafka-and-redis.js';
import { exitOf, spawnCli } from '../support/worker.js';

/**
 * Where replay windows end and what positions name, on the real broker: transactional producers
 * (Kafka Connect's exactly-once source support) leave commit and abort markers that take offsets and
 * are never handed to the consumer, so a window ending on one must end by offset, not by record.
 */

const SKIP = stackUnavailable() ?? false;

const MAPPINGS = `mappings:
  - name: by-id
    table: inventory.customers
    keys: ["customer:{id}"]
`;
const FAST = ['--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s', '--log-level', 'warn', '--second-delete-delay', '0'];

async function cli(args: string[], ms = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const code = await withTimeout(exitOf(child), ms, `cdc-invalidator ${args.join(' ')}\n${stderr.slice(-3000)}`);
    return { code, stdout, stderr };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('replay windows and positions on the real broker', { skip: SKIP, timeout: 400_000 }, () => {
  const bed = kafkaAndRedis({ mappings: MAPPINGS });

  const message = (id: number, partition = 0) => ({ key: JSON.stringify({ id }), value: JSON.stringify(customerCreate(id, `${id}@x`)), partition });
  const keys = (ids: number[]) => ids.map((i) => `customer:${i}`);
  async function plant(ids: number[]): Promise<void> {
    await bed.redis.mset(...keys(ids).flatMap((k) => [k, 'cached']));
  }
  async function gone(ids: number[]): Promise<number[]> {
    const out: number[] = [];
    for (const id of ids) if (!(await bed.redis.exists(`customer:${id}`))) out.push(id);
    return out;
  }
  const base = (topics: string): string[] => ['--brokers', bed.kafkaStack.brokers.join(','), '--topics', topics, '--mappings', bed.mappings, ...FAST];

  it('a window whose end falls on transaction markers (commits, an abort) finishes at --to, applying only committed records', async () => {
    const topic = `${uniqueName('tx')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 1 }]);
    const producer = bed.kafka.producer({ transactionalId: uniqueName('txid'), idempotent: true, maxInFlightRequests: 1, createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      // Offsets: 1,2 marker | 3,4 marker | 5,6 marker | 7,8 abort marker — the log ends on a marker.
      for (const [ids, commit] of [[[1, 2], true], [[3, 4], true], [[5, 6], true], [[7, 8], false]] as const) {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: ids.map((id) => message(id)) });
        if (commit) await txn.commit();
        else await txn.abort();
      }
    } finally {
      await producer.disconnect();
    }
    const admin = bed.kafka.admin();
    await admin.connect();
    const [end] = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    assert.equal(end!.high, '12', 'eight records and four markers');

    await plant([1, 2, 3, 4, 5, 6, 7, 8]);
    const r = await cli(['replay', ...base(topic), '--redis', bed.redisServer.url, '--from', 'earliest', '--to', 'latest'], 45_000);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { events: number; plannedRecords: string };
    assert.equal(summary.events, 6);
    assert.equal(summary.plannedRecords, '12');
    assert.deepEqual(await gone([1, 2, 3, 4, 5, 6, 7, 8]), [1, 2, 3, 4, 5, 6], 'an aborted record was applied, or a committed one missed');

    // A window that ends right after the first transaction's commit marker (offset 2): [0, 3).
    await plant([1, 2, 3]);
    const first = await cli(['replay', ...base(topic), '--redis', bed.redisServer.url, '--from', `${topic}:0:0`, '--to', `${topic}:0:3`], 45_000);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await gone([1, 2, 3]), [1, 2]);
  });

  it('topic:partition:offset positions replay only the named partitions; the short form needs a single topic', async () => {
    const prefix = uniqueName('pos');
    const a = `${prefix}.inventory.customers`;
    const b = `${prefix}.inventory.customers_b`;
    await bed.kafkaStack.createTopics([{ topic: a, numPartitions: 2 }, { topic: b, numPartitions: 1 }]);
    const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    const idsA0 = [100, 101, 102, 103];
    const idsA1 = [200, 201, 202, 203];
    const idsB = [300, 301];
    await producer.send({ topic: a, messages: [...idsA0.map((id) => message(id, 0)), ...idsA1.map((id) => message(id, 1))] });
    await producer.send({ topic: b, messages: idsB.map((id) => message(id)) });
    await producer.disconnect();
    const all = [...idsA0, ...idsA1, ...idsB];
    await plant(all);
    const both = `/^${prefix}\\..*/`;
    const r = await cli(['replay', ...base(both), '--redis', bed.redisServer.url, '--from', `${a}:1:2`, '--to', 'latest']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await gone(all), [202, 203], 'partitions not named were replayed');
    const summary = JSON.parse(r.stdout) as { topics: { topic: string; partitions: Record<string, unknown> }[] };
    assert.deepEqual(summary.topics.map((t) => [t.topic, Object.keys(t.partitions)]), [[a, ['1']]]);

    const short = await cli(['replay', ...base(both), '--redis', bed.redisServer.url, '--from', '0:1']);
    assert.equal(short.code, 78, short.stderr);
    assert.match(short.stderr, /^cdc-invalidator: --from: "0:1" names no topic and 2 topics are selected: write topic:partition:offset$/m);
    const single = await cli(['replay', ...base(b), '--redis', bed.redisServer.url, '--from', '0:1', '--dry-run']);
    assert.equal(single.code, 0, single.stderr);
    assert.equal((JSON.parse(single.stdout) as { events: number }).events, 1, 'the short form with one topic');
  });

  it('an inverted window exits 78 with one line; an empty window says so', async () => {
    const topic = `${uniqueName('inv')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 1 }]);
    const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [message(400), message(401)] });
    await producer.disconnect();
    for (const [from, to] of [['latest', 'earliest'], ['2h', '3h'], [`${topic}:0:2`, `${topic}:0:1`]]) {
      const r = await cli(['replay', ...base(topic), '--redis', bed.redisServer.url, '--from', from!, '--to', to!]);
      assert.equal(r.code, 78, `${from} → ${to}: ${r.stderr}`);
      assert.match(r.stderr, /^cdc-invalidator: the window is inverted: --from .+ is after --to .+$/m);
      assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/);
    }
    const empty = await cli(['replay', ...base(topic), '--redis', bed.redisServer.url, '--from', 'latest', '--to', 'latest']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stderr, /the window is empty/);
    const none = await cli(['replay', ...base(`/^${uniqueName('nothing')}\\./`), '--redis', bed.redisServer.url]);
    assert.equal(none.code, 78, none.stderr);
    assert.match(none.stderr, /^cdc-invalidator: --topics \/.+\/ matches no topic$/m);
  });

  it('offsets reset --to partition:offset moves only the named partitions; a partition that does not exist exits 78', async () => {
    const topic = `${uniqueName('reset')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 4 }]);
    const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [0, 1, 2, 3].flatMap((p) => Array.from({ length: 8 }, (_, i) => message(500 + p * 10 + i, p))) });
    await producer.disconnect();
    const group = uniqueName('g');
    const admin = bed.kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [0, 1, 2, 3].map((partition) => ({ partition, offset: '8' })) });
    await admin.disconnect();
    const offsets = ['offsets', 'reset', '--brokers', bed.kafkaStack.brokers.join(','), '--topics', topic, '--group', group, '--log-level', 'warn'];

    const bad = await cli([...offsets, '--to', '0:5,9:1']);
    assert.equal(bad.code, 78, bad.stderr);
    assert.match(bad.stderr, new RegExp(`^cdc-invalidator: --to: ${topic.replace(/\./g, '\\.')} has no partition 9 \\(it has 4: 0–3\\)$`, 'm'));
    const plan = await cli([...offsets, '--to', '0:5']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.deepEqual(plan.stdout.trim().split('\n').slice(1).map((l) => l.split('\t').slice(1)), [['0', '8', '5']], 'the plan moves partitions that were not named');
    const run = await cli([...offsets, '--to', `${topic}:0:5,${topic}:2:3`, '--execute']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await committedOffsets(bed.kafka, group, topic), new Map([[0, 5n], [1, 8n], [2, 3n], [3, 8n]]));
  });
});
