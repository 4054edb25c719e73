/**
 * Phase 7, scaling: the worker's CPU per record when the same traffic is spread over 1, 4, 16 and
 * 64 partitions. On the real broker: one topic of that many partitions each. On the mock (4
 * partitions per topic, auto-created): one topic with only partition 0 written, one topic, 4 and 16
 * topics. Each configuration gets a fresh worker (child process) and the same records, in rounds of
 * the same size (on the mock what one partition's retention holds), after an unmeasured warm-up
 * round (JIT). The producer sends 1000 records per round trip spread over the partitions, so the
 * batches the worker sees shrink as partitions grow (1000, 250, 62, 16 records), as they would for
 * a fixed event rate.
 *
 * Between rounds the worker idles, so CPU is counted per round only from just before the worker
 * starts on it to the round's commit: the round's keys are cached in Redis first, /proc CPU time is
 * read every 5 ms together with DBSIZE, and the round starts at the reading 250 ms before the first
 * key disappeared. "net" takes off the worker's idle CPU (measured for 3 s, 0.5 s with --quick,
 * before the rounds) over that window.
 */
import { join } from 'node:path';
import { waitCommitted, watermarks } from './offsets.js';
import { cpuSeconds, sleep, WorkerProcess } from './proc.js';
import type { BenchBroker } from './broker.js';
import { ChangeStream, makeTables, PARTITIONS_PER_TOPIC, PLAIN_MIX, preload, sampleRecordBytes, take, writeMappings } from './stream.js';
import { cacheKeys, capAfter, freshGroup, round, type BenchContext } from './util.js';

export interface ScalingPoint {
  readonly partitions: number;
  readonly topics: number;
  readonly records: number;
  readonly rounds: number;
  /** Records per partition of one producer round trip (on the mock also the batch the worker is handed). */
  readonly batch: number;
  /** Sum over rounds of the measured windows (start of work to commit), s. */
  readonly busySeconds: number;
  readonly cpuSeconds: number;
  readonly cpuMicrosPerRecord: number;
  /** Idle CPU of the worker (heartbeats, empty fetches), CPU seconds per second. */
  readonly idleCores: number;
  /** cpuMicrosPerRecord less the idle CPU over the measured windows. */
  readonly cpuMicrosPerRecordNet: number;
}

interface ScalingConfig {
  readonly partitions: number;
  readonly topics: number;
  /** Partitions of each topic. */
  readonly perTopic: number;
  /** Only this partition is written (the mock cannot create a 1-partition topic). */
  readonly single: number | undefined;
}

/** The configurations a broker can make: real topics of any size, the mock's of 4 partitions. */
export function scalingConfigs(broker: BenchBroker): ScalingConfig[] {
  if (broker.anyPartitionCount) return [1, 4, 16, 64].map((partitions) => ({ partitions, topics: 1, perTopic: partitions, single: undefined }));
  return [
    { partitions: 1, topics: 1, perTopic: PARTITIONS_PER_TOPIC, single: 0 },
    ...[4, 16, 64].map((partitions) => ({ partitions, topics: partitions / PARTITIONS_PER_TOPIC, perTopic: PARTITIONS_PER_TOPIC, single: undefined })),
  ];
}

/** Records per round on the real broker (no retention limit); the mock's rounds are what a partition keeps. */
const REAL_ROUND = 10_000;

interface Reading {
  readonly at: number;
  readonly cpu: number;
}

/** One round: cache its keys, produce it, and measure the worker's CPU from just before it began to the commit. */
async function measuredRound(
  ctx: BenchContext,
  wp: WorkerProcess,
  group: string,
  topics: readonly string[],
  produce: () => Promise<unknown>,
  keys: ReadonlySet<string>,
  deadline: number,
): Promise<{ cpu: number; seconds: number }> {
  await ctx.redis.flushall();
  await cacheKeys(ctx.redis, keys);
  const cached = await ctx.redis.dbsize();
  const readings: Reading[] = [];
  let startedAt: number | undefined;
  let watching = true;
  const watcher = (async () => {
    while (watching && performance.now() < deadline) {
      const reading = { at: performance.now(), cpu: cpuSeconds(wp.pid) };
      const size = await ctx.redis.dbsize();
      if (startedAt === undefined) {
        readings.push(reading);
        if (readings.length > 200) readings.splice(0, 100);
        if (size < cached) startedAt = reading.at;
      }
      await sleep(5);
    }
  })();
  await produce();
  const ends = await watermarks(ctx.admin, topics);
  await waitCommitted(ctx.admin, group, topics, ends.high, deadline, 'scaling round', 20);
  const end: Reading = { at: performance.now(), cpu: cpuSeconds(wp.pid) };
  watching = false;
  await watcher;
  if (startedAt === undefined) throw new Error('scaling: the worker deleted none of the round\'s cached keys');
  const from = [...readings].reverse().find((r) => r.at <= startedAt! - 250) ?? readings[0]!;
  return { cpu: end.cpu - from.cpu, seconds: (end.at - from.at) / 1000 };
}

export async function scalingPhase(ctx: BenchContext): Promise<ScalingPoint[]> {
  const out: ScalingPoint[] = [];
  const bytesPerRecord = sampleRecordBytes(makeTables('scale', 1, PLAIN_MIX)[0]!) * 1.15;
  // the same round size for every configuration: what one partition's retention holds
  const roundSize = ctx.broker.partitionBudgetBytes === Infinity ? REAL_ROUND : Math.floor(ctx.broker.partitionBudgetBytes / bytesPerRecord);
  // Every configuration's worker joins its group up front (a join costs seconds on the mock broker);
  // they are then measured one at a time, the others idle (CPU is read per process).
  const setups = [];
  try {
    for (const c of scalingConfigs(ctx.broker)) {
      const schema = `scale${c.partitions}`;
      const tables = makeTables(schema, c.topics, PLAIN_MIX);
      const topics = tables.map((t) => t.topic);
      const single = c.single;
      await ctx.broker.createTopics(ctx.admin, topics.map((topic) => ({ topic, partitions: c.perTopic })));
      const mappingsDir = await writeMappings(join(ctx.opts.workDir, `mappings-${schema}`), tables);
      const stream = new ChangeStream(tables, ctx.opts.seed + 7);
      const batch = Math.max(1, Math.round(1000 / c.topics));
      const produceFrom = (n: number) => {
        const list = take(stream, n);
        return {
          keys: new Set(list.records.flatMap((r) => r.keys)),
          produce: () => preload(ctx.producer, list, { records: n, batch, concurrency: 2, deadline: capAfter(120_000), ...(single !== undefined ? { partition: single } : {}) }),
        };
      };
      await produceFrom(c.topics * c.perTopic).produce(); // creates the topics on the mock
      const group = freshGroup(schema);
      const wp = new WorkerProcess(
        { brokers: ctx.brokers, redisUrl: ctx.redisUrl, topics, group, mappingsDir, delayMs: ctx.opts.delayMs },
        ctx.opts.workDir,
        schema,
        ctx.opts.workerNodeArgs,
      );
      setups.push({ c, topics, single, batch, produceFrom, group, wp, schema });
    }
    await Promise.all(
      setups.map(async (s) => {
        await s.wp.assigned(s.c.topics * s.c.perTopic, capAfter(60_000));
        await waitCommitted(ctx.admin, s.group, s.topics, (await watermarks(ctx.admin, s.topics)).high, capAfter(60_000), `${s.schema} topics`);
      }),
    );
    for (const { c, topics, single, batch, produceFrom, group, wp } of setups) {
      const deadline = capAfter(300_000 + ctx.opts.scaleEvents * 2);
      const warm = produceFrom(Math.min(roundSize, ctx.opts.quick ? 500 : 3000)); // not measured: the JIT warms up on the same code paths
      await measuredRound(ctx, wp, group, topics, warm.produce, warm.keys, deadline);
      const idleMs = ctx.opts.quick ? 500 : 3000;
      const idleFrom = cpuSeconds(wp.pid);
      await sleep(idleMs);
      const idleCores = (cpuSeconds(wp.pid) - idleFrom) / (idleMs / 1000);

      let left = ctx.opts.scaleEvents;
      let rounds = 0;
      let cpu = 0;
      let busy = 0;
      while (left > 0) {
        const n = Math.min(left, roundSize);
        const next = produceFrom(n);
        const r = await measuredRound(ctx, wp, group, topics, next.produce, next.keys, deadline);
        cpu += r.cpu;
        busy += r.seconds;
        left -= n;
        rounds++;
      }
      await ctx.redis.flushall();
      const records = ctx.opts.scaleEvents;
      const point: ScalingPoint = {
        partitions: c.partitions,
        topics: c.topics,
        records,
        rounds,
        batch: Math.round(batch / (single !== undefined ? 1 : c.perTopic)),
        busySeconds: round(busy, 2),
        cpuSeconds: round(cpu, 2),
        cpuMicrosPerRecord: round((cpu * 1e6) / records, 1),
        idleCores: round(idleCores, 3),
        cpuMicrosPerRecordNet: round(((cpu - idleCores * busy) * 1e6) / records, 1),
      };
      ctx.log(
        `scaling ${c.partitions} partition(s): ${records} records in ${rounds} round(s), CPU ${point.cpuMicrosPerRecord} µs/record ` +
          `(${point.cpuMicrosPerRecordNet} net of idle ${point.idleCores} cores over ${point.busySeconds} s), batches of ~${point.batch}`,
      );
      out.push(point);
    }
  } finally {
    await Promise.all(setups.map((s) => s.wp.stop(10_000).catch(() => undefined)));
  }
  return out;
}
