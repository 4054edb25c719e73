/**
 * The real worker (`cdc-invalidator run`, a child process so its CPU and memory are its own) over
 * a preloaded stream, with a fresh group from the beginning, until the group's committed offsets
 * reach the end offsets.
 */
import type { ClientName } from './clients/index.js';
import type { Watermarks } from './offsets.js';
import { waitCommitted } from './offsets.js';
import { cpuSeconds, memory, NeighbourCpu, RssSampler, sleep, WorkerProcess } from './proc.js';
import { PARTITIONS_PER_TOPIC } from './stream.js';
import { capAfter, freshGroup, median, round, type BenchContext } from './util.js';

export interface WorkerRunOptions {
  readonly name: string;
  readonly topics: readonly string[];
  readonly ends: Watermarks;
  readonly mappingsDir: string;
  readonly records: number;
  /** The stream's keys are cached in Redis (and nothing else): time when DBSIZE reaches 0. */
  readonly watchKeys: boolean;
  readonly nodeArgs?: readonly string[];
  readonly capMs: number;
  /** The Kafka client behind the worker's Source (default kafkajs). */
  readonly client?: ClientName;
  /** Another build's CLI (--baseline). */
  readonly cli?: string;
}

export interface MemorySummary {
  readonly samples: number;
  readonly peak: number;
  /** Median of the second half of the samples. */
  readonly steady: number;
  readonly first: number;
  readonly last: number;
  readonly hwm: number;
  readonly peakOverSteady: number;
  /** Lowest sample of the second half ÷ steady. */
  readonly lowOverSteady: number;
  /** RSS in MiB at up to 40 evenly spaced samples, first to last. */
  readonly seriesMiB: readonly number[];
}

export interface WorkerRunResult {
  readonly records: number;
  readonly startupSeconds: number;
  /** Assignment → every offset committed (includes the second-delete delay and a commit interval). */
  readonly seconds: number;
  readonly recordsPerSecond: number;
  /** Assignment → the last cached key gone (every first delete done); undefined when not watched. */
  readonly firstDeleteSeconds: number | undefined;
  readonly firstDeleteRecordsPerSecond: number | undefined;
  readonly keysDeleted: number | undefined;
  readonly secondKeysDeleted: number | undefined;
  readonly keysPerSecond: number | undefined;
  readonly commits: number | undefined;
  readonly cpuSeconds: number;
  readonly cpuMicrosPerRecord: number;
  /** CPU seconds per wall second while processing (1.0 = one core busy). */
  readonly cores: number;
  /** Cores used meanwhile by the other processes on the machine: the bench itself, kcat (broker), redis-server. */
  readonly otherCores: Record<string, number>;
  readonly memory: MemorySummary;
  readonly leftoverKeys: number | undefined;
  readonly exitCode: number | null;
  readonly stats: Record<string, number> | undefined;
  readonly logFile: string;
}

/** Sum of the worker's final-stats counters whose id matches (the counter names changed over time). */
function counter(stats: Record<string, number> | undefined, id: RegExp): number | undefined {
  if (!stats) return undefined;
  const hits = Object.entries(stats).filter(([k]) => id.test(k));
  return hits.length === 0 ? undefined : hits.reduce((s, [, v]) => s + v, 0);
}

export function summarizeMemory(samples: readonly { rss: number }[], hwm: number): MemorySummary {
  const values = samples.map((s) => s.rss);
  const secondHalf = values.slice(Math.floor(values.length / 2));
  const peak = Math.max(...values);
  const steady = median(secondHalf);
  const step = Math.max(1, (values.length - 1) / 39);
  const seriesMiB: number[] = [];
  for (let i = 0; i < values.length && seriesMiB.length < 40; i = Math.round(seriesMiB.length * step)) seriesMiB.push(round(values[i]! / 1048576, 1));
  return {
    samples: values.length,
    peak,
    steady,
    first: values[0] ?? NaN,
    last: values[values.length - 1] ?? NaN,
    hwm,
    peakOverSteady: round(peak / steady, 3),
    lowOverSteady: round(Math.min(...secondHalf) / steady, 3),
    seriesMiB,
  };
}

export async function runWorker(ctx: BenchContext, o: WorkerRunOptions): Promise<WorkerRunResult> {
  const deadline = capAfter(o.capMs);
  const spawnedAt = performance.now();
  const group = freshGroup(o.name);
  const wp = new WorkerProcess(
    { brokers: ctx.brokers, redisUrl: ctx.redisUrl, topics: o.topics, group, mappingsDir: o.mappingsDir, delayMs: ctx.opts.delayMs, ...(o.client ? { client: o.client } : {}), ...(o.cli ? { cli: o.cli } : {}) },
    ctx.opts.workDir,
    o.name,
    [...ctx.opts.workerNodeArgs, ...(o.nodeArgs ?? [])],
  );
  let sampler: RssSampler | undefined;
  try {
    const assignedAt = await wp.assigned(o.topics.length * PARTITIONS_PER_TOPIC, capAfter(60_000));
    const cpuStart = cpuSeconds(wp.pid);
    const neighbours = new NeighbourCpu(wp.pid);
    sampler = new RssSampler(wp.pid, 100);
    let firstDeleteAt: number | undefined;
    let watching = o.watchKeys;
    const watcher = (async () => {
      while (watching && performance.now() < deadline) {
        if ((await ctx.redis.dbsize()) === 0) {
          firstDeleteAt = performance.now();
          return;
        }
        await sleep(20);
      }
    })();
    const committedAt = await waitCommitted(ctx.admin, group, o.topics, o.ends.high, deadline, `worker (${o.name})`);
    const cpuEnd = cpuSeconds(wp.pid);
    const others = neighbours.used();
    sampler.stop();
    const mem = memory(wp.pid);
    watching = false;
    await watcher;
    const leftoverKeys = o.watchKeys ? await ctx.redis.dbsize() : undefined;
    const exitCode = await wp.stop();
    const stats = wp.finalStats;
    const seconds = (committedAt - assignedAt) / 1000;
    const firstDeleteSeconds = firstDeleteAt !== undefined ? (firstDeleteAt - assignedAt) / 1000 : undefined;
    const cpu = cpuEnd - cpuStart;
    const keysDeleted = counter(stats, /^keys_deleted$|^invalidated\{(?=.*kind=key)(?=.*pass=first)/);
    const result: WorkerRunResult = {
      records: o.records,
      startupSeconds: round((assignedAt - spawnedAt) / 1000, 2),
      seconds: round(seconds, 3),
      recordsPerSecond: round(o.records / seconds),
      firstDeleteSeconds: firstDeleteSeconds !== undefined ? round(firstDeleteSeconds, 3) : undefined,
      firstDeleteRecordsPerSecond: firstDeleteSeconds !== undefined ? round(o.records / firstDeleteSeconds) : undefined,
      keysDeleted,
      secondKeysDeleted: counter(stats, /^second_keys_deleted$|^invalidated\{(?=.*kind=key)(?=.*pass=second)/),
      keysPerSecond: keysDeleted !== undefined ? round(keysDeleted / (firstDeleteSeconds ?? seconds)) : undefined,
      commits: counter(stats, /^commits$/),
      cpuSeconds: round(cpu, 2),
      cpuMicrosPerRecord: round((cpu * 1e6) / o.records, 1),
      cores: round(cpu / seconds, 2),
      otherCores: Object.fromEntries(Object.entries(others).map(([k, v]) => [k, round(v / seconds, 2)])),
      memory: summarizeMemory(sampler.samples.filter((s) => s.t <= committedAt), mem.hwm),
      leftoverKeys,
      exitCode,
      stats,
      logFile: wp.logFile,
    };
    return result;
  } catch (e) {
    sampler?.stop();
    await wp.stop(5_000).catch(() => undefined);
    throw e;
  }
}
