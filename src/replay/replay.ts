import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { MappingSet } from '../mapping/mapping-set.js';
import { decodeDebeziumJson } from '../pipeline/decode/debezium-json.js';
import type { RecordDecoder } from '../pipeline/decode/format.js';
import { RateLimitedSink } from '../pipeline/sink/rate-limited-sink.js';
import type { InvalidationSink } from '../pipeline/sink/sink.js';
import { topicsForPrefix, type TopicSelection } from '../domain/types.js';
import { Worker } from '../pipeline/worker.js';
import { Stats } from '../telemetry/stats.js';
import { DEFAULT_BACKOFF } from '../util/backoff.js';
import { DryRunSink } from './dry-run-sink.js';
import { resolvePosition, type PartitionInfo, type Position } from './positions.js';
import { ReplaySource, type TopicRange } from './replay-source.js';

export interface ReplayOptions {
  readonly topics: TopicSelection;
  readonly mappings: MappingSet;
  readonly from: Position;
  readonly to: Position;
  readonly dryRun: boolean;
  /** Keys per second at most (undefined = unlimited). */
  readonly maxRate: number | undefined;
  readonly secondDeleteDelayMs: number;
  /** Backpressure bound (--max-pending-second-deletes; default 200,000). */
  readonly maxPendingSecondDeletes?: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly progressIntervalMs: number;
  /** The record decoder (--format / --schema-registry); JSON when absent. */
  readonly decode?: RecordDecoder;
}

export interface ReplaySummary {
  readonly dryRun: boolean;
  readonly topics: readonly { topic: string; partitions: Record<string, { from: string; to: string }> }[];
  readonly plannedRecords: string;
  readonly records: number;
  readonly events: number;
  readonly eventsByTable: Record<string, number>;
  readonly keys: number;
  readonly tags: number;
  readonly versions: number;
  readonly skippedPoison: number;
  readonly seconds: number;
  readonly sample?: { keys: string[]; tags: string[]; versions: string[] };
}

async function resolveTopics(admin: Admin, sel: TopicSelection, mappings: MappingSet): Promise<string[]> {
  switch (sel.kind) {
    case 'list':
      return [...sel.topics];
    case 'prefix':
      return topicsForPrefix(sel.prefix, mappings.tables());
    case 'regex':
      return (await admin.listTopics()).filter((t) => sel.pattern.test(t)).sort();
  }
}

/** Works out [from, to) per partition of every topic, from the broker's offsets. */
export async function planReplay(admin: Admin, topics: readonly string[], from: Position, to: Position): Promise<TopicRange[]> {
  const out: TopicRange[] = [];
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    const partitions: PartitionInfo[] = offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
    const forTime = async (ms: number) => {
      const found = await admin.fetchTopicOffsetsByTimestamp(topic, ms);
      return new Map(found.filter((f) => BigInt(f.offset) >= 0n).map((f) => [f.partition, BigInt(f.offset)]));
    };
    const start = await resolvePosition(from, partitions, forTime);
    const end = await resolvePosition(to, partitions, forTime);
    out.push({ topic, ranges: new Map(partitions.map((p) => [p.partition, { from: start.get(p.partition)!, to: end.get(p.partition)! }])) });
  }
  return out;
}

/**
 * Replays a window of the change topics through the same decode → map → delete path as `run`,
 * reading with a throwaway group so the live group's offsets never move. Resolves when every
 * partition reached the window's end and the second deletes were done.
 */
export async function runReplay(kafka: Kafka, redisSink: () => InvalidationSink, opts: ReplayOptions, logger: Logger): Promise<ReplaySummary> {
  const started = performance.now();
  const admin = kafka.admin();
  await admin.connect();
  let ranges: TopicRange[];
  try {
    const topics = await resolveTopics(admin, opts.topics, opts.mappings);
    if (topics.length === 0) throw new Error('no topic to replay');
    ranges = await planReplay(admin, topics, opts.from, opts.to);
  } finally {
    await admin.disconnect();
  }
  let planned = 0n;
  for (const t of ranges) for (const r of t.ranges.values()) if (r.to > r.from) planned += r.to - r.from;
  logger.info({ topics: ranges.length, plannedRecords: planned.toString(), dryRun: opts.dryRun }, 'replay planned');

  const stats = new Stats();
  const dry = opts.dryRun ? new DryRunSink() : undefined;
  const sink: InvalidationSink = dry ?? (opts.maxRate ? new RateLimitedSink(redisSink(), opts.maxRate) : redisSink());
  const source = new ReplaySource(
    kafka,
    {
      ranges,
      groupId: `cdc-invalidator-replay-${randomUUID()}`,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      rebalanceTimeoutMs: opts.rebalanceTimeoutMs,
    },
    logger,
  );
  const worker = new Worker(
    {
      secondDeleteDelayMs: opts.dryRun ? 0 : opts.secondDeleteDelayMs,
      commitIntervalMs: 1_000,
      maxPendingSecondDeletes: opts.maxPendingSecondDeletes ?? 200_000,
      backoff: DEFAULT_BACKOFF,
      onError: 'skip',
      maxRecordBytes: Number.MAX_SAFE_INTEGER,
    },
    { source, sink, mappings: opts.mappings, decode: opts.decode ?? decodeDebeziumJson, logger, stats },
  );
  const progress = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    const records = stats.get('records');
    const rate = records / Math.max(seconds, 0.001);
    const left = Number(planned) - records;
    logger.info({ records, plannedRecords: Number(planned), ratePerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.round(left / rate) : null, partitionsLeft: source.remaining }, 'replay progress');
  }, opts.progressIntervalMs);
  progress.unref();
  try {
    await worker.start();
    const ended = await Promise.race([source.done.then(() => 'done' as const), worker.done.then(() => 'stopped' as const)]);
    const result = await worker.stop(30_000);
    if (ended === 'stopped' || result.state === 'failed') throw result.error ?? new Error('replay stopped before the end of the window');
  } finally {
    clearInterval(progress);
  }

  const eventsByTable = stats.byLabel('events', 'table');
  return {
    dryRun: opts.dryRun,
    topics: ranges.map((t) => ({ topic: t.topic, partitions: Object.fromEntries([...t.ranges].map(([p, r]) => [String(p), { from: r.from.toString(), to: r.to.toString() }])) })),
    plannedRecords: planned.toString(),
    records: stats.get('records'),
    events: stats.get('events'),
    eventsByTable,
    keys: dry ? dry.keys.size : stats.get('invalidated', { kind: 'key', pass: 'first' }),
    tags: dry ? dry.tags.size : stats.get('invalidated', { kind: 'tag', pass: 'first' }),
    versions: dry ? dry.versions.size : stats.get('invalidated', { kind: 'version', pass: 'first' }),
    skippedPoison: stats.get('poison_records'),
    seconds: Math.round((performance.now() - started) / 10) / 100,
    ...(dry ? { sample: dry.sample() } : {}),
  };
}
