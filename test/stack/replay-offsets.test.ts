import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import { committedOffsets, endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { startKafka, type KafkaStack } from '../support/stack/kafka.js';
import { exitOf, mappingsDir, spawnCli } from '../support/worker.js';

/**
 * replay and offsets against the real broker, where ListOffsets by timestamp and DescribeGroups
 * exist (the mock answers a time with the end offset and has no DescribeGroups): replay windows
 * given as a duration ago and as ISO times, `offsets show` with real lag, `offsets reset --execute`
 * refused while a member runs and applied once the group is empty.
 */

const SKIP = stackUnavailable() ?? false;

const MAPPINGS = `mappings:
  - name: by-id
    table: inventory.customers
    keys: ["customer:{id}"]
`;
const FAST = ['--session-timeout', '6s', '--heartbeat-interval', '500ms', '--rebalance-timeout', '6s'];
const HOUR = 3_600_000;
const idOf = (p: number, o: number) => p * 100 + o;
/** Record o of each partition was written this long ago: 0–3 three hours, 4–6 ninety minutes, 7–9 now. */
const ageOf = (o: number) => (o < 4 ? 3 * HOUR : o < 7 ? 1.5 * HOUR : 0);

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await withTimeout(exitOf(child), 60_000, `cdc-invalidator ${args.join(' ')}`);
  return { code, stdout, stderr };
}

describe('replay by time and offsets on the real broker', { skip: SKIP, timeout: 240_000 }, () => {
  let kafkaStack: KafkaStack;
  let redisServer: RedisServer;
  let redis: Redis;
  let kafka: Kafka;
  let mappings: string;
  const topic = `${uniqueName('shop')}.inventory.customers`;

  before(async () => {
    [kafkaStack, redisServer] = await Promise.all([startKafka(), startRedis()]);
    redis = redisServer.client();
    kafka = kafkaStack.kafka();
    mappings = await mappingsDir(MAPPINGS);
    await kafkaStack.createTopics([{ topic, numPartitions: 2 }]);
    const producer = kafka.producer();
    await producer.connect();
    const now = Date.now();
    for (const p of [0, 1]) {
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, o) => ({
          partition: p,
          key: JSON.stringify({ id: idOf(p, o) }),
          value: JSON.stringify(customerCreate(idOf(p, o), `${idOf(p, o)}@x`)),
          timestamp: String(now - ageOf(o)),
        })),
      });
    }
    await producer.disconnect();
  });
  after(async () => {
    await redisServer?.cleanup();
    await kafkaStack?.stop();
  });

  /** What every Kafka command takes; `run` and `replay` also take the group timeouts. */
  const base = (): string[] => ['--brokers', kafkaStack.brokers.join(','), '--topics', topic, '--mappings', mappings, '--log-level', 'warn'];
  const stream = (): string[] => [...base(), ...FAST];

  async function plantAll(): Promise<void> {
    const p = redis.pipeline();
    for (const part of [0, 1]) for (let o = 0; o < 10; o++) p.set(`customer:${idOf(part, o)}`, 'x');
    await p.exec();
  }
  /** The offsets (per partition, same for both) whose keys are gone. */
  async function goneOffsets(): Promise<number[][]> {
    const out: number[][] = [[], []];
    for (const part of [0, 1]) for (let o = 0; o < 10; o++) if (!(await redis.exists(`customer:${idOf(part, o)}`))) out[part]!.push(o);
    return out;
  }

  it('replay --from 2h --to now: exactly the records written in the last two hours (ListOffsets by time)', async () => {
    await plantAll();
    const r = await cli(['replay', ...stream(), '--redis', redisServer.url, '--from', '2h', '--to', 'now', '--second-delete-delay', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { events: number }).events, 12, r.stdout);
    assert.deepEqual(await goneOffsets(), [[4, 5, 6, 7, 8, 9], [4, 5, 6, 7, 8, 9]]);
  });

  it('replay --from <ISO> --to <ISO>: the window [from, to) by record time', async () => {
    await plantAll();
    const from = new Date(Date.now() - 2 * HOUR).toISOString();
    const to = new Date(Date.now() - HOUR).toISOString();
    const r = await cli(['replay', ...stream(), '--redis', redisServer.url, '--from', from, '--to', to, '--second-delete-delay', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { events: number }).events, 6, r.stdout);
    assert.deepEqual(await goneOffsets(), [[4, 5, 6], [4, 5, 6]]);
  });

  it('offsets show reports real lag; offsets reset --execute is refused while a member runs, applied once the group is empty', async () => {
    const group = uniqueName('live');
    const run = spawnCli(['run', ...stream(), '--redis', redisServer.url, '--group', group, '--from-beginning', '--dlq-create-partitions', '1', '--dlq-create-replication', '1', '--second-delete-delay', '50ms', '--commit-interval', '50ms']);
    let runLog = '';
    run.stdout!.on('data', (d: Buffer) => (runLog += d.toString()));
    run.stderr!.on('data', (d: Buffer) => (runLog += d.toString()));
    try {
      const end = await endOffsets(kafka, topic);
      await waitCommittedTo(kafka, group, topic, end, { timeoutMs: 60_000, message: `the live group committing to the end\n${runLog}` });
      const show = await cli(['offsets', 'show', ...base(), '--group', group]);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, new RegExp(`${topic.replace(/\./g, '\\.')}\\t0\\t10\\t10\\t0`));

      const refused = await cli(['offsets', 'reset', ...base(), '--group', group, '--to', 'earliest', '--execute']);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /has 1 active member\(s\).*stop the workers first/);
      assert.deepEqual(await committedOffsets(kafka, group, topic), end, 'a refused reset changed nothing');
    } finally {
      run.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(run), 30_000, 'the worker stopping'), 0, runLog);
    }
    // Lag as the group sees it after more records arrive while it is stopped.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [0, 1, 2].map((i) => ({ partition: 0, key: `{"id":${900 + i}}`, value: JSON.stringify(customerCreate(900 + i, 'z@x')) })) });
    await producer.disconnect();
    const lagged = await cli(['offsets', 'show', ...base(), '--group', group]);
    assert.match(lagged.stdout, new RegExp(`${topic.replace(/\./g, '\\.')}\\t0\\t10\\t13\\t3`), lagged.stdout);

    const byTime = await cli(['offsets', 'reset', ...base(), '--group', group, '--to', '2h', '--execute']);
    assert.equal(byTime.code, 0, byTime.stderr);
    assert.deepEqual(await committedOffsets(kafka, group, topic), new Map([[0, 4n], [1, 4n]]), 'reset to the first record of the last two hours');
    const earliest = await cli(['offsets', 'reset', ...base(), '--group', group, '--to', 'earliest', '--execute']);
    assert.equal(earliest.code, 0, earliest.stderr);
    assert.deepEqual(await committedOffsets(kafka, group, topic), new Map([[0, 0n], [1, 0n]]));
  });
});
