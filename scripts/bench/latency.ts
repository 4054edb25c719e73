/**
 * Phase 5, added latency at a fixed rate. The real composeWorker runs in this process, because
 * the moments that bound the worker's own latency are only visible here: KafkaSource.prototype.start
 * is wrapped (for this phase only) to stamp each batch as kafkajs hands it over, and
 * RedisSink.prototype.unlink and unlinkEach to stamp when Redis acknowledged a key's first UNLINK. The load runs in
 * two worker threads (latency-driver.ts), so it does not share this event loop: a producer sends
 * update events at a fixed rate, each with its produce time in a row column and two keys of its own,
 * which are cached in Redis beforehand; an ioredis client subscribed to keyspace events
 * (`notify-keyspace-events Eg`, channel __keyevent@0__:del, which UNLINK also reports) stamps each
 * key's delete as Redis reports it. Per event (both keys), on one monotonic clock (process.hrtime):
 * - added latency       = first-delete ack − handover to the worker (decode, map, UNLINK round trip);
 * - added, Redis side   = keyspace del event received − handover (cross-check, independent of the wraps);
 * - end to end          = first-delete ack − produce (includes the broker and kafkajs fetching);
 * - kafka               = handover − produce.
 */
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker as Thread } from 'node:worker_threads';
import pino from 'pino';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { loadMappings } from '../../src/mapping/load.js';
import { RedisSink } from '../../src/pipeline/sink/redis-sink.js';
import { KafkaSource } from '../../src/pipeline/source/kafka-source.js';
import type { BatchHandler, Source, SourceEvents } from '../../src/pipeline/source/source.js';
import { composeWorker } from '../../src/runtime/compose.js';
import { Stats } from '../../src/telemetry/stats.js';
import { hrMs, latencyCode, latencyEnvelope, type DriverData, type DriverMessage } from './latency-driver.js';
import { waitCommitted, watermarks } from './offsets.js';
import { sleep } from './proc.js';
import { makeTables, PARTITIONS_PER_TOPIC, PLAIN_MIX, writeMappings } from './stream.js';
import { cacheKeys, capAfter, distribution, freshGroup, percentile, round, type BenchContext, type Distribution } from './util.js';

export interface LatencyResult {
  readonly rate: number;
  readonly achievedRate: number;
  readonly seconds: number;
  readonly events: number;
  /** Events whose keys' keyspace `del` events arrived. */
  readonly deleted: number;
  /** Events whose keys' first UNLINK the worker saw acknowledged. */
  readonly acked: number;
  readonly missing: number;
  readonly topics: number;
  /** first-delete ack seen by the worker − handover to the worker, ms */
  readonly added: Distribution;
  /** keyspace `del` event received (subscriber thread) − handover to the worker, ms */
  readonly addedRedis: Distribution;
  /** first-delete ack − produce, ms */
  readonly endToEnd: Distribution;
  /** handover − produce, ms */
  readonly kafka: Distribution;
  /** Quantiles 0, 1, …, 100 % of `added`, `addedRedis` and `endToEnd`, ms (for the chart's CDF). */
  readonly cdf: { readonly added: number[]; readonly addedRedis: number[]; readonly endToEnd: number[] };
  /** The worker's event-loop delay (this process's main thread) during the run, ms. */
  readonly eventLoopDelayP99: number;
  readonly avgBatch: number;
}

const BASE_ID = 1_000_000;
let runs = 0;
const WARMUP_ID = 10;

/** One load thread (latency-driver.ts) and its message protocol. */
class DriverThread {
  readonly #thread: Thread;
  readonly #exit: Promise<unknown>;
  error: string | undefined;
  producedSeconds: number | undefined;

  constructor(data: DriverData) {
    this.#thread = new Thread(new URL('./latency-driver.js', import.meta.url), { workerData: data });
    this.#exit = new Promise((resolve) => this.#thread.once('exit', resolve));
    this.#thread.on('message', (m: DriverMessage) => {
      if (m.type === 'error') this.error = m.message;
      if (m.type === 'produced') this.producedSeconds = m.seconds;
    });
    this.#thread.on('error', (e: Error) => (this.error ??= e.message));
  }

  /** Resolves on the next message of `type`; rejects on an error message or at the deadline. */
  next(type: DriverMessage['type'], deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#thread.off('message', onMessage);
        reject(new Error(`latency driver: no "${type}" in time${this.error ? ` (${this.error})` : ''}`));
      }, Math.max(0, deadline - performance.now()));
      const onMessage = (m: DriverMessage): void => {
        if (m.type !== type && m.type !== 'error') return;
        clearTimeout(timer);
        this.#thread.off('message', onMessage);
        if (m.type === 'error') reject(new Error(`latency driver: ${m.message}`));
        else resolve();
      };
      this.#thread.on('message', onMessage);
    });
  }

  post(message: 'go' | 'stop'): void {
    this.#thread.postMessage(message);
  }

  /** Asks the thread to stop; terminates it after 5 s. */
  async close(): Promise<void> {
    this.post('stop');
    const timer = setTimeout(() => void this.#thread.terminate(), 5_000);
    await this.#exit;
    clearTimeout(timer);
  }
}

/** The 0, 1, …, 100th percentiles. */
function quantiles(values: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return Array.from({ length: 101 }, (_, p) => round(p === 0 ? (sorted[0] ?? NaN) : percentile(sorted, p), 3));
}

export async function latencyPhase(ctx: BenchContext, rate: number): Promise<LatencyResult> {
  const seconds = ctx.opts.latencyMs / 1000;
  const total = Math.max(1, Math.round(rate * seconds));
  const partitions = Math.ceil((total * 900 * 1.5) / ctx.broker.partitionBudgetBytes);
  const schema = `latency${++runs}`; // each run its own topics: a fresh group reads from the beginning
  const tables = makeTables(schema, Math.max(4, Math.ceil(partitions / PARTITIONS_PER_TOPIC)), PLAIN_MIX);
  const topics = tables.map((t) => t.topic);
  const mappingsDir = await writeMappings(join(ctx.opts.workDir, `mappings-${schema}`), tables);
  await ctx.broker.createTopics(ctx.admin, topics.map((topic) => ({ topic, partitions: PARTITIONS_PER_TOPIC })));

  // Warm-up: one event per partition creates the topics and proves the worker consumes.
  let warmId = WARMUP_ID;
  for (const t of tables) {
    await ctx.producer.send({
      topic: t.topic,
      acks: -1,
      messages: Array.from({ length: PARTITIONS_PER_TOPIC }, (_, p) => {
        const id = warmId++;
        return { key: `{"id":${id}}`, value: latencyEnvelope(t, id, Date.now() * 1000), partition: p };
      }),
    });
  }

  const data: Omit<DriverData, 'role'> = {
    brokers: ctx.brokers,
    redisUrl: ctx.redisUrl,
    tables: tables.map(({ topic, schema, table, keyPrefix }) => ({ topic, schema, table, keyPrefix })),
    rate,
    total,
    baseId: BASE_ID,
    produced: new SharedArrayBuffer(total * 8),
    deleted: new SharedArrayBuffer(total * 8),
    counters: new SharedArrayBuffer(8),
  };
  const producedAt = new Float64Array(data.produced);
  const deletedAt = new Float64Array(data.deleted);
  const counters = new Int32Array(data.counters);
  const handoverAt = new Float64Array(total);
  let batches = 0;
  let handed = 0;

  const proto = KafkaSource.prototype as unknown as { start: Source['start'] };
  const originalStart = proto.start;
  proto.start = function (this: KafkaSource, handler: BatchHandler, events: SourceEvents) {
    return originalStart.call(
      this,
      (batch) => {
        const at = hrMs();
        batches++;
        for (const r of batch.records) {
          if (!r.key) continue;
          const i = Number(r.key.toString('latin1').slice(6, -1)) - BASE_ID;
          if (i >= 0 && i < total && handoverAt[i] === 0) {
            handoverAt[i] = at;
            handed++;
          }
        }
        return handler(batch);
      },
      events,
    );
  };

  // The first-delete ack: the worker's UNLINK resolving, stamped per event when its last key is acknowledged.
  const ackedAt = new Float64Array(total);
  const ackKeysLeft = new Uint8Array(total).fill(2);
  const ackIndex = new Map<string, number>();
  for (let i = 0; i < total; i++) {
    const t = tables[i % tables.length]!;
    const id = BASE_ID + i;
    ackIndex.set(`${t.keyPrefix}:${id}`, i);
    ackIndex.set(`${t.keyPrefix}:code:${latencyCode(id).toLowerCase()}`, i);
  }
  // RedisSink.unlinkEach (one pipeline for a pass' groups) and unlink are both wrapped; each key counts once, at its first ack.
  const sinkProto = RedisSink.prototype as unknown as {
    unlink: (keys: readonly string[]) => Promise<number>;
    unlinkEach: (groups: readonly (readonly string[])[]) => Promise<number[]>;
  };
  const originalUnlink = sinkProto.unlink;
  const originalUnlinkEach = sinkProto.unlinkEach;
  const stampAcked = (keys: readonly string[]): void => {
    const at = hrMs();
    for (const k of keys) {
      const i = ackIndex.get(k);
      if (i === undefined) continue;
      ackIndex.delete(k);
      if (--ackKeysLeft[i]! === 0) ackedAt[i] = at;
    }
  };
  sinkProto.unlink = async function (this: RedisSink, keys: readonly string[]): Promise<number> {
    const n = await originalUnlink.call(this, keys);
    stampAcked(keys);
    return n;
  };
  sinkProto.unlinkEach = async function (this: RedisSink, groups: readonly (readonly string[])[]): Promise<number[]> {
    const n = await originalUnlinkEach.call(this, groups);
    for (const g of groups) stampAcked(g);
    return n;
  };

  const group = freshGroup('latency');
  const config = resolveRunConfig(
    {
      brokers: ctx.brokers.join(','),
      redis: ctx.redisUrl,
      topics: topics.join(','),
      group,
      mappings: mappingsDir,
      secondDeleteDelay: `${ctx.opts.delayMs}ms`,
      initialPosition: 'earliest',
      dlqCreatePartitions: '1',
      dlqCreateReplication: '1',
      sessionTimeout: '6s',
      heartbeatInterval: '500ms',
      rebalanceTimeout: '6s',
      logLevel: 'warn',
    },
    {},
  );
  const loaded = await loadMappings(mappingsDir);
  if (!loaded.set) throw new Error(`latency mappings invalid: ${loaded.problems.map((p) => p.message).join('; ')}`);
  const worker = composeWorker(config, loaded.set, pino({ level: 'warn' }, pino.destination(2)), new Stats());
  const producerThread = new DriverThread({ ...data, role: 'producer' });
  const subscriberThread = new DriverThread({ ...data, role: 'subscriber' });
  const ready = Promise.all([producerThread.next('ready', capAfter(60_000)), subscriberThread.next('ready', capAfter(60_000))]);
  ready.catch(() => undefined); // awaited below; a failure before then must not go unhandled
  const loop = monitorEventLoopDelay({ resolution: 1 });
  try {
    await worker.start();
    const warmEnds = await watermarks(ctx.admin, topics);
    await waitCommitted(ctx.admin, group, topics, warmEnds.high, capAfter(60_000), 'latency warm-up');
    await ready;
    const keys: string[] = [];
    for (let i = 0; i < total; i++) {
      const t = tables[i % tables.length]!;
      keys.push(`${t.keyPrefix}:${BASE_ID + i}`, `${t.keyPrefix}:code:${latencyCode(BASE_ID + i).toLowerCase()}`);
    }
    await cacheKeys(ctx.redis, keys);
    await ctx.redis.config('SET', 'notify-keyspace-events', 'Eg');

    loop.enable();
    const produced = producerThread.next('produced', capAfter(ctx.opts.latencyMs + 60_000));
    producerThread.post('go');
    await produced;
    const producedSeconds = producerThread.producedSeconds;
    // The mock broker answers a fetch that found nothing only after the consumer's maxWaitTime.
    const deadline = capAfter(15_000);
    const allAcked = (): boolean => ackKeysLeft.every((n) => n === 0);
    while ((Atomics.load(counters, 0) < total || !allAcked()) && performance.now() < deadline) await sleep(50);
    loop.disable();

    const added: number[] = [];
    const addedRedis: number[] = [];
    const endToEnd: number[] = [];
    const kafka: number[] = [];
    let deleted = 0;
    let acked = 0;
    for (let i = 0; i < total; i++) {
      if (handoverAt[i] !== 0) kafka.push(handoverAt[i]! - producedAt[i]!);
      if (ackedAt[i] !== 0) {
        acked++;
        endToEnd.push(ackedAt[i]! - producedAt[i]!);
        if (handoverAt[i] !== 0) added.push(ackedAt[i]! - handoverAt[i]!);
      }
      if (deletedAt[i] !== 0) {
        deleted++;
        if (handoverAt[i] !== 0) addedRedis.push(deletedAt[i]! - handoverAt[i]!);
      }
    }
    const result: LatencyResult = {
      rate,
      achievedRate: round(total / (producedSeconds ?? NaN)),
      seconds: round(producedSeconds ?? NaN, 2),
      events: total,
      deleted,
      acked,
      missing: total - Math.min(deleted, acked),
      topics: topics.length,
      added: distribution(added),
      addedRedis: distribution(addedRedis),
      endToEnd: distribution(endToEnd),
      kafka: distribution(kafka),
      cdf: { added: quantiles(added), addedRedis: quantiles(addedRedis), endToEnd: quantiles(endToEnd) },
      eventLoopDelayP99: round(loop.percentile(99) / 1e6, 2),
      avgBatch: round(handed / Math.max(1, batches), 1),
    };
    ctx.log(
      `latency at ${rate} events/s for ${result.seconds} s (${total} events, ${result.missing} not deleted): ` +
        `added p50 ${result.added.p50} / p99 ${result.added.p99} / max ${result.added.max} ms; ` +
        `end-to-end p50 ${result.endToEnd.p50} / p99 ${result.endToEnd.p99} / max ${result.endToEnd.max} ms`,
    );
    return result;
  } finally {
    loop.disable();
    proto.start = originalStart;
    sinkProto.unlink = originalUnlink;
    sinkProto.unlinkEach = originalUnlinkEach;
    await worker.stop(10_000).catch(() => undefined);
    await ctx.redis.config('SET', 'notify-keyspace-events', '').catch(() => undefined);
    await Promise.all([producerThread.close(), subscriberThread.close()]);
    for (const t of [producerThread, subscriberThread]) if (t.error) ctx.log(`latency driver error: ${t.error}`);
  }
}
