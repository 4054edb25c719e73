/**
 * Phase 2, the Redis ceiling: one ioredis connection UNLINKs the stream's key volume (every key of
 * every record, duplicates kept, as cached values that exist), pipelined. Two shapes: 512 keys per
 * UNLINK (the worker's RedisSink chunk size) and one key per UNLINK.
 */
import { Redis } from 'ioredis';
import type { MainStream } from './main-stream.js';
import { cacheKeys, round, type BenchContext } from './util.js';

export interface RedisShape {
  readonly keysPerCommand: number;
  readonly keys: number;
  readonly seconds: number;
  readonly keysPerSecond: number;
  readonly removed: number;
}

export interface RedisResult {
  readonly multi: RedisShape;
  readonly single: RedisShape;
  /** The ceiling used in the ratios: the faster shape. */
  readonly keysPerSecond: number;
}

async function unlinkAll(redis: Redis, keys: readonly string[], perCommand: number, commandsPerPipeline: number, inFlight: number): Promise<RedisShape> {
  const started = performance.now();
  const pending = new Set<Promise<void>>();
  let removed = 0;
  for (let i = 0; i < keys.length; i += perCommand * commandsPerPipeline) {
    const pipeline = redis.pipeline();
    const end = Math.min(keys.length, i + perCommand * commandsPerPipeline);
    for (let j = i; j < end; j += perCommand) pipeline.unlink(...keys.slice(j, Math.min(end, j + perCommand)));
    const p: Promise<void> = pipeline.exec().then((results) => {
      for (const [err, n] of results ?? []) {
        if (err) throw err;
        removed += Number(n);
      }
    });
    const tracked = p.finally(() => pending.delete(tracked));
    pending.add(tracked);
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  return { keysPerCommand: perCommand, keys: keys.length, seconds: round(seconds, 3), keysPerSecond: round(keys.length / seconds), removed };
}

export async function redisCeiling(ctx: BenchContext, main: MainStream): Promise<RedisResult> {
  const redis = new Redis(ctx.redisUrl, { connectionName: 'bench-ceiling' });
  try {
    await cacheKeys(redis, main.uniqueKeys);
    const multi = await unlinkAll(redis, main.keys, 512, 16, 4);
    await cacheKeys(redis, main.uniqueKeys);
    const single = await unlinkAll(redis, main.keys, 1, 1000, 4);
    const keysPerSecond = Math.max(multi.keysPerSecond, single.keysPerSecond);
    ctx.log(
      `redis ceiling: ${main.keys.length} keys: UNLINK ×512 pipelined ${multi.keysPerSecond} keys/s (${multi.seconds} s); ` +
        `UNLINK ×1 pipelined ${single.keysPerSecond} keys/s (${single.seconds} s)`,
    );
    return { multi, single, keysPerSecond };
  } finally {
    redis.disconnect();
  }
}
