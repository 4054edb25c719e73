import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { chaosSeed, chaosStream, plant, seededRandom, startSlowReader, streamRecords, survivors } from '../support/chaos.js';
import { endOffsets, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { stopProcess, withTimeout } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { stackUnavailable } from '../support/stack/jars.js';
import { startKafka, type KafkaStack } from '../support/stack/kafka.js';
import { exitOf, mappingsDir, runArgs, spawnCli } from '../support/worker.js';

/**
 * Chaos on the real broker: the only broker SIGKILLed and restarted mid-stream, and — with three
 * brokers and replication factor 3 — the leader of a partition SIGKILLed. The worker (the CLI) must
 * ride both out: every sentinel planted under the stream's keys is gone at the end, the group
 * committed every partition to its end, and the worker still exits 0 on SIGTERM.
 */

const SKIP = stackUnavailable() ?? false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function follow(child: ChildProcess): () => string {
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-8_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return () => out;
}

describe('chaos: brokers killed under a running worker', { skip: SKIP, timeout: 600_000 }, () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let mappings: string;

  before(async () => {
    redisServer = await startRedis();
    redis = redisServer.client();
    mappings = await mappingsDir();
  });
  after(async () => redisServer?.cleanup());

  async function run(t: { diagnostic(s: string): void }, kafka: KafkaStack, disrupt: (topic: string) => Promise<string>): Promise<void> {
    const seed = chaosSeed();
    const random = seededRandom(seed);
    const topic = `${uniqueName('chaos')}.inventory.customers`;
    const group = uniqueName('g');
    await kafka.createTopics([{ topic, numPartitions: 4, configEntries: [{ name: 'min.insync.replicas', value: String(Math.min(2, kafka.nodes.length)) }] }]);
    const stream = chaosStream(4, 2_000, random);
    const all = stream.flat();
    const planted = await plant(redis, all);
    t.diagnostic(`seed ${seed} (CHAOS_SEED=${seed} replays it): ${all.length} events, ${planted} sentinels planted`);
    const client = kafka.kafka({ retry: { retries: 10, initialRetryTime: 200 } });
    const worker = spawnCli(runArgs({ brokers: kafka.brokers, redis: redisServer.url, topic, group, mappings, logLevel: 'info' }));
    const out = follow(worker);
    try {
      const streamer = streamRecords(client, topic, stream, all.length / 30, 200, { retryForMs: 90_000 });
      const reader = startSlowReader(redis, stream, streamer.produced, 1_000);
      await sleep(4_000 + Math.floor(random() * 4_000));
      const what = await disrupt(topic);
      t.diagnostic(`${what} after ${streamer.produced.reduce((a, b) => a + b, 0)} of ${all.length} events were produced`);
      await withTimeout(streamer.done, 180_000, 'the producer finishing');
      await waitCommittedTo(client, group, topic, await endOffsets(client, topic), { timeoutMs: 120_000, message: `the worker committing every partition to the end\n${out()}` });
      const { writtenBackInWindow } = await reader.stop();
      await sleep(1_500); // the last write-backs' second delete
      const left = await survivors(redis, all);
      t.diagnostic(`events ${all.length}, sentinels planted ${planted}, in-window write-backs ${writtenBackInWindow}, sentinels left ${left}`);
      assert.equal(left, 0, `sentinels left\n${out()}`);
      assert.equal(worker.exitCode, null, `the worker kept running:\n${out()}`);
      worker.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(worker), 30_000, 'a clean exit on SIGTERM'), 0, out());
    } finally {
      await stopProcess(worker, 'SIGKILL');
    }
  }

  it('the only broker SIGKILLed mid-stream and restarted 5 s later', async (t) => {
    const kafka = await startKafka();
    try {
      await run(t, kafka, async () => {
        const node = kafka.nodes[0]!;
        await node.kill();
        await sleep(5_000);
        const t0 = performance.now();
        await node.start();
        return `broker killed; back after 5 s (restart ${Math.round(performance.now() - t0)} ms)`;
      });
    } finally {
      await kafka.stop();
    }
  });

  it('three brokers: the leader of partition 0 SIGKILLed mid-stream (and started again later)', async (t) => {
    const kafka = await startKafka({ nodes: 3 });
    let restarted: Promise<void> | undefined;
    try {
      await run(t, kafka, async (topic) => {
        const admin = kafka.kafka().admin();
        await admin.connect();
        let leader: number;
        try {
          const meta = await admin.fetchTopicMetadata({ topics: [topic] });
          leader = meta.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
        } finally {
          await admin.disconnect();
        }
        const node = kafka.nodes.find((n) => n.id === leader)!;
        await node.kill();
        // The cluster elects new leaders; the stream and the worker go on with two brokers for a while.
        restarted = sleep(15_000).then(() => node.start());
        return `leader ${leader} of partition 0 killed (restarted 15 s later)`;
      });
      await restarted;
    } finally {
      await restarted?.catch(() => undefined);
      await kafka.stop();
    }
  });
});
