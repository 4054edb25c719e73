/**
 * Phase 3, the naive baseline: what one writes by hand — kafkajs eachMessage, JSON.parse, one
 * `await redis.del(key)` per key, one offset commit per message. Stops after the time cap or the
 * whole stream, whichever comes first.
 */
import { Redis } from 'ioredis';
import type { MainStream } from './main-stream.js';
import { cacheKeys, freshGroup, round, type BenchContext } from './util.js';

export interface NaiveResult {
  readonly records: number;
  readonly dels: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly delsPerSecond: number;
}

interface Envelope {
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  source?: { schema?: string; table?: string };
}

export async function naiveBaseline(ctx: BenchContext, main: MainStream): Promise<NaiveResult> {
  const redis = new Redis(ctx.redisUrl, { connectionName: 'bench-naive' });
  await cacheKeys(redis, main.uniqueKeys);
  const consumer = ctx.kafka.consumer({ groupId: freshGroup('naive'), sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 6000, maxWaitTimeInMs: 500 });
  let records = 0;
  let dels = 0;
  let startedAt = 0;
  let stoppedAt = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = (): void => {
    if (stoppedAt === 0) {
      stoppedAt = performance.now();
      resolveDone();
    }
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...main.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (stoppedAt !== 0) return;
        if (startedAt === 0) startedAt = performance.now();
        if (message.value) {
          let doc = JSON.parse(message.value.toString()) as Envelope & { schema?: unknown; payload?: Envelope };
          if (doc.schema && doc.payload) doc = doc.payload;
          const table = `${doc.source?.schema}.${doc.source?.table}`;
          for (const row of [doc.after, doc.before]) {
            if (!row) continue;
            await redis.del(`${table}:${String(row['id'])}`);
            await redis.del(`${table}:code:${String(row['code']).toLowerCase()}`);
            dels += 2;
          }
        }
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        records++;
        if (records >= main.records || performance.now() - startedAt >= ctx.opts.naiveMs) stop();
      },
    });
    const timer = setTimeout(stop, ctx.opts.naiveMs + 30_000); // covers a group join that never happens
    await done;
    clearTimeout(timer);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    redis.disconnect();
  }
  if (startedAt === 0) throw new Error('naive baseline: no message consumed');
  const seconds = (stoppedAt - startedAt) / 1000;
  const result = { records, dels, seconds: round(seconds, 2), recordsPerSecond: round(records / seconds), delsPerSecond: round(dels / seconds) };
  ctx.log(`naive baseline: ${records} records, ${dels} DELs in ${result.seconds} s = ${result.recordsPerSecond} records/s`);
  return result;
}
