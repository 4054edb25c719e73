/**
 * Phase 6, memory under backlog: a large stream (default 1,000,000 records, on 16 topics × 4
 * partitions, or on the mock as many topics as its retention needs) is preloaded, then the worker (child process) works
 * through it while its RSS is sampled every 100 ms. Its keys are not cached in Redis (UNLINK of
 * absent keys), so Redis memory does not grow with the backlog.
 */
import { join } from 'node:path';
import { watermarks } from './offsets.js';
import { ChangeStream, PARTITIONS_PER_TOPIC, planTables, preload, writeMappings } from './stream.js';
import { capAfter, round, type BenchContext } from './util.js';
import { runWorker, type WorkerRunResult } from './worker-run.js';

export interface BacklogResult {
  readonly records: number;
  readonly topics: number;
  readonly megabytes: number;
  readonly produceSeconds: number;
  readonly produceRecordsPerSecond: number;
  readonly worker: WorkerRunResult;
}

export async function backlogPhase(ctx: BenchContext): Promise<BacklogResult> {
  const n = ctx.opts.backlog;
  const tables = planTables('backlog', n, 16, ctx.broker.partitionBudgetBytes);
  await ctx.broker.createTopics(ctx.admin, tables.map((t) => ({ topic: t.topic, partitions: PARTITIONS_PER_TOPIC })));
  const topics = tables.map((t) => t.topic);
  const mappingsDir = await writeMappings(join(ctx.opts.workDir, 'mappings-backlog'), tables);
  const stream = new ChangeStream(tables, ctx.opts.seed + 1);
  const loaded = await preload(ctx.producer, stream, { records: n, batch: ctx.opts.produceBatch, deadline: capAfter(120_000 + n / 2) });
  const ends = await watermarks(ctx.admin, topics);
  if (ends.truncated.length > 0 || ends.stored !== loaded.records) {
    throw new Error(`backlog: the broker kept ${ends.stored} of ${loaded.records} records (truncated: ${ends.truncated.slice(0, 3).join(', ')})`);
  }
  ctx.log(`backlog: ${loaded.records} records on ${topics.length} topics, ${round(loaded.bytes / 1048576, 1)} MiB, produced in ${round(loaded.seconds, 1)} s`);
  const worker = await runWorker(ctx, { name: 'backlog', topics, ends, mappingsDir, records: loaded.records, watchKeys: false, capMs: 120_000 + n / 2 });
  const m = worker.memory;
  ctx.log(
    `backlog worker: ${worker.recordsPerSecond} records/s; RSS peak ${round(m.peak / 1048576, 1)} MiB, steady ${round(m.steady / 1048576, 1)} MiB ` +
      `(peak/steady ${m.peakOverSteady}, ${m.samples} samples); CPU ${worker.cpuMicrosPerRecord} µs/record`,
  );
  return {
    records: loaded.records,
    topics: topics.length,
    megabytes: round(loaded.bytes / 1048576, 1),
    produceSeconds: round(loaded.seconds, 2),
    produceRecordsPerSecond: round(loaded.records / loaded.seconds),
    worker,
  };
}
