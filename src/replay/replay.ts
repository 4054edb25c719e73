import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { MappingSet } from '../mapping/mapping-set.js';
import { decodeDebeziumJson } from '../pipeline/decode/debezium-json.js';
import type { RecordDecoder } from '../pipeline/decode/format.js';
import { RateLimitedSink } from '../pipeline/sink/rate-limited-sink.js';
import type { InvalidationSink } from '../pipeline/sink/sink.js';
import type { TopicSelection } from '../domain/types.js';
import { Worker } from '../pipeline/worker.js';
import { Stats } from '../telemetry/stats.js';
import { DEFAULT_BACKOFF } from '../util/backoff.js';
import { DryRunSink } from './dry-run-sink.js';
import { ConfigError } from '../config/errors.js';
import { existingTopics } from './topics.js';
import { ProgressLog, type ProgressReporter, type ProgressSnapshot } from './progress.js';
import { checkResolvedOrder, checkWindowOrder, namedOffsets, resolvePosition, type PartitionInfo, type Position } from './positions.js';
import { ReplaySource, type TopicRange } from './replay-source.js';

export interface ReplayOptions {
  readonly topics: TopicSelection;
  readonly mappings: MappingSet;
  readonly from: Position;
  readonly to: Position;
  /** --from and --to as given, for messages (default: the position's kind). */
  readonly fromText?: string;
  readonly toText?: string;
  readonly dryRun: boolean;
  /** Keys per second at most (undefined = unlimited). */
  readonly maxRate: number | undefined;
  readonly secondDeleteDelayMs: number;
  /** Backpressure bound (--max-pending-second-deletes; default 200,000). */
  readonly maxPendingSecondDeletes?: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  /** How progress is shown (a bar on a terminal, log lines otherwise); default: log lines every 5 s. */
  readonly progress?: ProgressReporter;
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

/** A window bound: the position and how it was written. */
export interface Bound {
  readonly pos: Position;
  readonly text: string;
}

/**
 * Works out [from, to) per partition, from the broker's offsets. Offsets of named partitions
 * (`topic:partition:offset`) restrict the window to those partitions; --from and --to naming
 * offsets must name the same ones. An inverted window is a ConfigError.
 */
export async function planReplay(admin: Admin, topics: readonly string[], from: Bound, to: Bound): Promise<TopicRange[]> {
  checkWindowOrder(from, to);
  const partitionsOf = new Map<string, PartitionInfo[]>();
  for (const topic of topics) {
    const offsets = await admin.fetchTopicOffsets(topic);
    partitionsOf.set(topic, offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })).sort((a, b) => a.partition - b.partition));
  }
  const namedFrom = from.pos.kind === 'offsets' ? namedOffsets(from.pos, '--from', partitionsOf) : undefined;
  const namedTo = to.pos.kind === 'offsets' ? namedOffsets(to.pos, '--to', partitionsOf) : undefined;
  if (namedFrom && namedTo) {
    const ids = (m: Map<string, Map<number, bigint>>) => [...m].flatMap(([t, ps]) => [...ps.keys()].map((p) => `${t}:${p}`)).sort().join(',');
    if (ids(namedFrom) !== ids(namedTo)) throw new ConfigError(`--from and --to name different partitions (--from: ${ids(namedFrom)}; --to: ${ids(namedTo)})`);
  }
  const named = namedFrom ?? namedTo;
  const out: TopicRange[] = [];
  for (const [topic, all] of partitionsOf) {
    if (named && !named.has(topic)) continue; // not named: left alone
    const partitions = named ? all.filter((p) => named.get(topic)!.has(p.partition)) : all;
    const forTime = async (ms: number) => {
      const found = await admin.fetchTopicOffsetsByTimestamp(topic, ms);
      return new Map(found.filter((f) => BigInt(f.offset) >= 0n).map((f) => [f.partition, BigInt(f.offset)]));
    };
    const start = await resolvePosition(from.pos, partitions, forTime, namedFrom?.get(topic));
    const end = await resolvePosition(to.pos, partitions, forTime, namedTo?.get(topic));
    checkResolvedOrder(topic, start, end, from.text, to.text);
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
    const topics = await existingTopics(admin, opts.topics, opts.mappings.tables(), logger);
    ranges = await planReplay(admin, topics, { pos: opts.from, text: opts.fromText ?? opts.from.kind }, { pos: opts.to, text: opts.toText ?? opts.to.kind });
  } finally {
    await admin.disconnect();
  }
  let planned = 0n;
  for (const t of ranges) for (const r of t.ranges.values()) if (r.to > r.from) planned += r.to - r.from;
  logger.info({ topics: ranges.length, plannedRecords: planned.toString(), dryRun: opts.dryRun }, 'replay planned');
  if (planned === 0n) logger.warn({ from: opts.fromText, to: opts.toText }, 'the window is empty: no record between --from and --to, nothing to replay');

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
  const reporter = opts.progress ?? new ProgressLog(logger);
  const snapshot = (): ProgressSnapshot => ({
    records: stats.get('records'),
    planned: Number(planned),
    seconds: (performance.now() - started) / 1000,
    partitionsDone: source.total - source.remaining,
    partitions: source.total,
  });
  const progress = setInterval(() => reporter.update(snapshot()), reporter.everyMs);
  progress.unref();
  try {
    await worker.start();
    const ended = await Promise.race([source.done.then(() => 'done' as const), worker.done.then(() => 'stopped' as const)]);
    const result = await worker.stop(30_000);
    if (ended === 'stopped' || result.state === 'failed') throw result.error ?? new Error('replay stopped before the end of the window');
  } finally {
    clearInterval(progress);
    reporter.finish(snapshot());
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
