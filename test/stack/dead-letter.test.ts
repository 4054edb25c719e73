import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs, { type Kafka, type KafkaMessage } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/pipeline/poison/dead-letter.js';
import { customerCreate } from '../support/debezium.js';
import { committedOffsets, uniqueName } from '../support/kafka.js';
import { waitFor, withTimeout } from '../support/processes.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { kafkaAndRedis } from '../support/stack/kafka-and-redis.js';
import { WorkerProcess } from '../support/worker-process.js';
import { exitOf, spawnCli } from '../support/worker.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/**
 * The dead-letter topic on the real broker, which (unlike the test mock) honours a Metadata request's
 * allowAutoTopicCreation, ACLs, max.message.bytes and min.insync.replicas. The broker auto-creates
 * topics (Kafka's default), so a worker that named its dead-letter topic in a producer's Metadata
 * would create it by accident.
 */

const SKIP = stackUnavailable() ?? false;

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawnCli(args, env);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await withTimeout(exitOf(child), 60_000, `cdc-invalidator ${args.join(' ')}`);
  return { code, out };
}

async function readAll(kafka: Kafka, topic: string, n: number): Promise<KafkaMessage[]> {
  const got: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader'), sessionTimeout: 6_000, rebalanceTimeout: 6_000, heartbeatInterval: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
    await waitFor(() => got.length >= n, { timeoutMs: 30_000, message: `${n} records in ${topic}` });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

describe('the dead-letter topic on the real broker', { skip: SKIP, timeout: 300_000 }, () => {
  const bed = kafkaAndRedis({
    kafka: {
      autoCreateTopics: true,
      config: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'allow.everyone.if.no.acl.found': 'true' },
    },
  });

  /** A source topic with `records` (strings are sent as is: poison). */
  async function sourceTopic(records: { value: string; headers?: Record<string, Buffer | Buffer[]>; timestamp?: string }[]): Promise<string> {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    await bed.kafkaStack.createTopics([{ topic, numPartitions: 1 }]);
    const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: records.map((r, i) => ({ key: JSON.stringify({ id: i }), ...r })) });
    await producer.disconnect();
    return topic;
  }
  const env = (topic: string, group: string, extra: Record<string, string> = {}): Record<string, string> => ({
    ...bed.workerEnv(group, { CDC_INVALIDATOR_TOPICS: topic, CDC_INVALIDATOR_FROM_BEGINNING: 'true' }),
    ...extra,
  });
  const good = (id: number) => ({ value: JSON.stringify(customerCreate(id, `${id}@x`)) });

  it('a missing dead-letter topic is a start-up error (exit 78) and is not created by accident', async () => {
    const topic = await sourceTopic([good(1)]);
    const group = uniqueName('g');
    const r = await cli(['run'], env(topic, group));
    assert.equal(r.code, 78, r.out);
    assert.match(r.out, new RegExp(`cdc-invalidator: --dlq-topic: the dead-letter topic "${group}\\.dlq" does not exist; create it, or let the worker create it with --dlq-create-partitions`));
    const admin = bed.kafka.admin();
    await admin.connect();
    try {
      assert.ok(!(await admin.listTopics()).includes(`${group}.dlq`), 'the dead-letter topic was auto-created');
    } finally {
      await admin.disconnect();
    }
    assert.deepEqual(await committedOffsets(bed.kafka, group, topic), new Map([[0, -1n]]), 'the group consumed without a dead-letter topic');
  });

  it('--dlq-create-partitions/--dlq-create-replication create it; header bytes, repeated headers and the timestamp survive; no partitioner notice', async () => {
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80]);
    const timestamp = String(Date.now() - 3_600_000);
    const topic = await sourceTopic([
      good(1),
      { value: 'not json', headers: { bin: binary, 'x-rep': [Buffer.from('a'), Buffer.from([0xc3, 0x28]), Buffer.from('c')] }, timestamp },
      good(3),
    ]);
    const group = uniqueName('g');
    const worker = new WorkerProcess(env(topic, group, { CDC_INVALIDATOR_DLQ_CREATE_PARTITIONS: '3', CDC_INVALIDATOR_DLQ_CREATE_REPLICATION: '1' }));
    await worker.start();
    try {
      await waitFor(async () => (await committedOffsets(bed.kafka, group, topic)).get(0) === 3n, { timeoutMs: 30_000, message: () => `committed to the end\n${worker.output}` });
      const admin = bed.kafka.admin();
      await admin.connect();
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [`${group}.dlq`] });
        assert.equal(topics[0]?.partitions.length, 3, 'created with the stated partitions');
      } finally {
        await admin.disconnect();
      }
      const [dl] = await readAll(bed.kafka, `${group}.dlq`, 1);
      assert.deepEqual(dl!.headers!['bin'], binary, 'the binary header arrived decoded as UTF-8');
      assert.deepEqual(dl!.headers!['x-rep'], [Buffer.from('a'), Buffer.from([0xc3, 0x28]), Buffer.from('c')], 'every value of a repeated header, as bytes');
      assert.equal(dl!.timestamp, timestamp, 'the original timestamp');
      assert.equal(dl!.headers![DLQ_HEADERS.offset]!.toString(), '1');
      assert.equal(dl!.value!.toString(), 'not json');
      assert.doesNotMatch(worker.output, /partitioner/i, 'the kafkajs partitioner notice');
      assert.match(worker.output, /"msg":"dead-letter topic created"/);
    } finally {
      assert.equal(await worker.stop(), 0, worker.output);
    }
  });

  it('fatal dead-letter failures stop the worker (exit 1) with a clear message, committing nothing past the record: authorization, record too large', async () => {
    // Not allowed to write: a DENY ACL on the dead-letter topic.
    const denied = `${uniqueName('g')}`;
    await bed.kafkaStack.createTopics([{ topic: `${denied}.dlq`, numPartitions: 1 }]);
    const admin = bed.kafka.admin();
    await admin.connect();
    try {
      await admin.createAcls({
        acl: [
          // With an ACL on the topic, "allow if no ACL" no longer applies to it: describing stays allowed, writing is denied.
          ...[AclOperationTypes.DESCRIBE, AclOperationTypes.DESCRIBE_CONFIGS].map((operation) => ({ operation, permissionType: AclPermissionTypes.ALLOW })),
          { operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.DENY },
        ].map((a) => ({ resourceType: AclResourceTypes.TOPIC, resourceName: `${denied}.dlq`, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:ANONYMOUS', host: '*', ...a })),
      });
    } finally {
      await admin.disconnect();
    }
    // Too large: the topic accepts record batches of 2 kB, the poison record is 10 kB.
    const small = `${uniqueName('g')}`;
    await bed.kafkaStack.createTopics([{ topic: `${small}.dlq`, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }]);

    for (const [group, value, expected] of [
      [denied, 'not json', /dead-letter produce to \S+ failed for good \(TOPIC_AUTHORIZATION_FAILED\): the worker is not allowed to write to it/],
      [small, `x${'y'.repeat(10_000)}`, /dead-letter produce to \S+ failed for good \(MESSAGE_TOO_LARGE\): a dead-letter record is larger than the topic accepts/],
    ] as const) {
      const topic = await sourceTopic([good(1), { value }, good(3)]);
      const r = await cli(['run'], env(topic, group));
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, expected);
      assert.match(r.out, /stopping before the poison record/);
      assert.ok((await committedOffsets(bed.kafka, group, topic)).get(0)! <= 1n, `${group}: committed past the poison record`);
    }
  });
});

describe('a retriable dead-letter failure on a real 3-node cluster', { skip: SKIP, timeout: 300_000 }, () => {
  const bed = kafkaAndRedis({ kafka: { nodes: 3, startTimeoutMs: 180_000 } });
  const env = (topic: string, group: string): Record<string, string> => bed.workerEnv(group, { CDC_INVALIDATOR_TOPICS: topic, CDC_INVALIDATOR_FROM_BEGINNING: 'true' });
  const good = (id: number) => ({ value: JSON.stringify(customerCreate(id, `${id}@x`)) });

  it('a retriable dead-letter failure (a replica down: NOT_ENOUGH_REPLICAS) is retried and reported as dead-letter trouble: readiness, metric, log', async () => {
    const admin = bed.kafka.admin();
    await admin.connect();
    try {
      // The source partition and the group coordinator stay up; a node they do not need goes down.
      const offsets = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
      const keep = offsets.topics[0]!.partitions[0]!.leader;
      const victim = bed.kafkaStack.nodes.find((n) => n.id !== keep)!;
      const topic = `${uniqueName('shop')}.inventory.customers`;
      await bed.kafkaStack.createTopics([{ topic, numPartitions: -1, replicationFactor: -1, replicaAssignment: [{ partition: 0, replicas: [keep] }] }]);
      const group = uniqueName('g');
      const dlq = `${group}.dlq`;
      // Three replicas, all three required in sync for acks=all.
      await bed.kafkaStack.createTopics([{ topic: dlq, numPartitions: 1, configEntries: [{ name: 'min.insync.replicas', value: '3' }] }]);
      const producer = bed.kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic, messages: [{ key: '{"id":1}', ...good(1) }] });
      const worker = new WorkerProcess(env(topic, group));
      await worker.start();
      try {
        await waitFor(async () => (await committedOffsets(bed.kafka, group, topic)).get(0) === 1n, { timeoutMs: 30_000, message: () => `the first record committed
${worker.output}` });
        await victim.kill();
        await producer.send({ topic, messages: [{ key: '{"id":2}', value: 'not json' }, { key: '{"id":3}', ...good(3) }] });
        await waitFor(async () => (await worker.readyz()).notReady.includes('dead-letter'), { timeoutMs: 60_000, message: () => `/readyz naming dead-letter\n${worker.output}` });
        const ready = await worker.readyz();
        assert.equal(ready.status, 503);
        assert.ok(!ready.notReady.includes('redis'), `reported as Redis: ${ready.notReady.join(',')}`);
        await waitFor(async () => (await worker.metric('cdc_invalidator_dead_letter_retries_total')) > 0, { timeoutMs: 20_000, message: 'dead_letter_retries_total' });
        assert.equal(await worker.metric('cdc_invalidator_redis_retries_total'), 0);
        assert.match(worker.output, /"what":"dead-letter produce".*"msg":"dead-letter produce failed; retrying/);
        assert.equal((await committedOffsets(bed.kafka, group, topic)).get(0), 1n, 'committed past the record being dead-lettered');
        await victim.start();
        await waitFor(async () => (await committedOffsets(bed.kafka, group, topic)).get(0) === 3n, { timeoutMs: 90_000, message: () => `committed once the produce went through\n${worker.output}` });
        await waitFor(async () => (await worker.readyz()).status === 200, { timeoutMs: 20_000, message: 'ready again' });
        // At least once: a produce the leader appended before the replica went (its ack then failed
        // with NOT_ENOUGH_REPLICAS_AFTER_APPEND or a timeout) is sent again, so the record may be there twice.
        const parked = await readAll(bed.kafka, dlq, 1);
        assert.ok(parked.length >= 1);
        for (const m of parked) {
          assert.equal(m.headers?.[DLQ_HEADERS.offset]?.toString(), '1', 'only the poison record (offset 1) is parked');
          assert.equal(m.value?.toString(), 'not json');
        }
      } finally {
        await producer.disconnect();
        assert.equal(await worker.stop(), 0, worker.output);
      }
    } finally {
      await admin.disconnect();
    }
  });
});
