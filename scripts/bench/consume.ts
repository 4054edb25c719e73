/**
 * Phase 1, the consume ceiling: kafkajs reads the whole main stream (same consumer settings as the
 * worker's KafkaSource) and every record goes through the project's Debezium JSON decoder. Nothing
 * else: no mapping, no Redis, no commits.
 */
import { decodeDebeziumJson } from '../../src/pipeline/decode/debezium-json.js';
import type { SourceRecord } from '../../src/domain/types.js';
import type { MainStream } from './main-stream.js';
import { NeighbourCpu } from './proc.js';
import { capAfter, freshGroup, round, type BenchContext } from './util.js';

export interface ConsumeResult {
  readonly records: number;
  readonly changes: number;
  readonly skips: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  /** Share of the time spent inside the decoder. */
  readonly decodeShare: number;
  readonly decodeMicrosPerRecord: number;
  /** CPU of this process (user + system) per record while consuming. */
  readonly cpuMicrosPerRecord: number;
  readonly batches: number;
  readonly avgBatch: number;
  /** Cores used meanwhile by the broker (kcat) and redis-server. */
  readonly otherCores: Record<string, number>;
}

export async function consumeCeiling(ctx: BenchContext, main: MainStream): Promise<ConsumeResult> {
  const consumer = ctx.kafka.consumer({
    groupId: freshGroup('consume'),
    sessionTimeout: 6000,
    maxWaitTimeInMs: 500, // as the worker's --fetch-max-wait: disconnecting waits out a pending fetch
    heartbeatInterval: 500,
    rebalanceTimeout: 6000,
    maxBytesPerPartition: 1_048_576,
    allowAutoTopicCreation: false,
  });
  const total = main.records;
  let records = 0;
  let changes = 0;
  let skips = 0;
  let batches = 0;
  let decodeMs = 0;
  let startedAt = 0;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let neighbours: NeighbourCpu | undefined;
  let others: Record<string, number> = {};
  let finishedAt = 0;
  let cpu: NodeJS.CpuUsage | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  consumer.on(consumer.events.GROUP_JOIN, () => {
    if (startedAt === 0) {
      startedAt = performance.now();
      cpuAtStart = process.cpuUsage();
      neighbours = new NeighbourCpu(-1);
    }
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...main.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        batches++;
        const t0 = performance.now();
        for (const m of batch.messages) {
          const record: SourceRecord = { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers: {} };
          const d = decodeDebeziumJson(record);
          if (d.kind === 'change') changes++;
          else skips++;
        }
        decodeMs += performance.now() - t0;
        records += batch.messages.length;
        if (records >= total && finishedAt === 0) {
          finishedAt = performance.now();
          cpu = process.cpuUsage(cpuAtStart);
          others = neighbours?.used() ?? {};
          resolveDone();
        }
      },
    });
    const cap = capAfter(60_000 + total / 2);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`consume ceiling: ${records}/${total} records at the time cap`)), cap - performance.now()))),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  const seconds = (finishedAt - startedAt) / 1000;
  const result: ConsumeResult = {
    records,
    changes,
    skips,
    seconds: round(seconds, 3),
    recordsPerSecond: round(records / seconds),
    decodeShare: round(decodeMs / 1000 / seconds, 3),
    decodeMicrosPerRecord: round((decodeMs * 1000) / records, 2),
    cpuMicrosPerRecord: round(((cpu?.user ?? 0) + (cpu?.system ?? 0)) / records, 2),
    batches,
    avgBatch: round(records / batches, 1),
    otherCores: Object.fromEntries(Object.entries(others).filter(([k]) => k !== 'bench').map(([k, v]) => [k, round(v / seconds, 2)])),
  };
  ctx.log(
    `consume ceiling: ${records} records in ${result.seconds} s = ${result.recordsPerSecond} records/s ` +
      `(decode ${result.decodeMicrosPerRecord} µs/record, ${Math.round(result.decodeShare * 100)} % of the time; CPU ${result.cpuMicrosPerRecord} µs/record; ${batches} batches of ${result.avgBatch})`,
  );
  return result;
}
