import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { customerCreate } from '../support/debezium.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { committedOffsets, endOffsets, produce, uniqueName, waitCommittedTo } from '../support/kafka.js';
import { stopProcess, waitFor, withTimeout } from '../support/processes.js';
import type { RedisServer } from '../support/redis-server.js';
import { startServices, type Services } from '../support/services.js';
import { exitOf, mappingsDir, spawnCli, runArgs } from '../support/worker.js';

let services: Services;
let broker: KafkaBroker;
let redisServer: RedisServer;
let redis: Redis;
let kafka: Kafka;
let mappings: string;

before(async () => {
  services = await startServices();
  ({ broker, redisServer, redis, kafka } = services);
  mappings = await mappingsDir();
});
after(async () => services?.stop());

const PARTITIONS = 4;
const PER_PARTITION = 500;
const keyOf = (p: number, i: number) => `customer:${p * PER_PARTITION + i}`;

function cliArgs(topic: string, group: string): string[] {
  return runArgs({ brokers: broker.brokers, redis: redisServer.url, topic, group, mappings });
}

async function setAll(from: Map<number, bigint>): Promise<number> {
  const pipeline = redis.pipeline();
  let n = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const start = Number(from.get(p) ?? 0n);
    for (let i = Math.max(0, start); i < PER_PARTITION; i++, n++) pipeline.set(keyOf(p, i), 'cached');
  }
  await pipeline.exec();
  return n;
}

async function existing(keys: string[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < keys.length; i += 500) n += await redis.exists(...keys.slice(i, i + 500));
  return n;
}

describe('crash safety', { timeout: 120_000 }, () => {
  it('a worker killed with SIGKILL mid-stream and restarted leaves no key undeleted', async () => {
    const topic = `${uniqueName('shop')}.inventory.customers`;
    const group = uniqueName('g');
    const wave = (from: number, to: number) => {
      const out = [];
      for (let p = 0; p < PARTITIONS; p++) {
        for (let i = from; i < to; i++) {
          const id = p * PER_PARTITION + i;
          out.push({ key: { id }, value: customerCreate(id, `${id}@x`), partition: p });
        }
      }
      return out;
    };
    const half = PER_PARTITION / 2;
    const total = await setAll(new Map());
    assert.equal(total, PARTITIONS * PER_PARTITION);
    const allKeys = Array.from({ length: PARTITIONS }, (_, p) => Array.from({ length: PER_PARTITION }, (_, i) => keyOf(p, i))).flat();
    const secondHalf = allKeys.filter((_, n) => n % PER_PARTITION >= half);

    // First wave: processed and committed. Second wave: killed -9 as its first deletes land,
    // so its second deletes (and commits) are lost.
    await produce(kafka, topic, wave(0, half));
    const first = spawnCli(cliArgs(topic, group));
    let stderr = '';
    first.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    first.stdout!.resume();
    await waitFor(async () => [...(await committedOffsets(kafka, group, topic)).values()].every((o) => o === BigInt(half)), {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: `first wave committed (stderr: ${stderr})`,
    });
    await produce(kafka, topic, wave(half, PER_PARTITION));
    await waitFor(async () => (await existing(secondHalf)) < secondHalf.length, { timeoutMs: 30_000, intervalMs: 5, message: 'second wave deletes' });
    await stopProcess(first, 'SIGKILL');
    const committed = await committedOffsets(kafka, group, topic);

    // Commit never passed an undeleted key: every record below the committed offset has its key gone.
    const belowCommit: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < Number(committed.get(p) ?? 0n); i++) belowCommit.push(keyOf(p, i));
    assert.equal(await existing(belowCommit), 0, 'a committed record kept its key');

    // Stand-in for what the lost second deletes would have cleared: values written back by slow readers.
    const rewritten = await setAll(committed);
    if (process.env['DEBUG_TESTS']) console.error('committed at kill', committed, 'rewritten', rewritten);
    assert.ok(rewritten > 0 && rewritten < total, `the kill came mid-stream (${rewritten} of ${total} records uncommitted)`);

    const second = spawnCli(cliArgs(topic, group));
    second.stdout!.resume();
    second.stderr!.resume();
    try {
      const end = await endOffsets(kafka, topic);
      await waitCommittedTo(kafka, group, topic, end, { timeoutMs: 60_000, message: 'the restarted worker committing to the end' });
      assert.equal(await existing(allKeys), 0, 'keys left undeleted after the restart');
    } finally {
      second.kill('SIGTERM');
      assert.equal(await withTimeout(exitOf(second), 20_000, 'clean exit on SIGTERM'), 0);
    }
  });
});
