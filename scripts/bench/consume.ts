/**
 * Phase 1, the consume ceiling of one Kafka client: its `Source` (the worker's consumer settings)
 * reads the whole main stream and every record goes through the project's Debezium JSON decoder.
 * Nothing else: no mapping, no Redis, no commits. Timed from the first batch handed over to the
 * last record decoded (the same for every client: a group join or the first fetch is not in it).
 */
import pino from 'pino';
import { createDebeziumJsonDecoder } from '../../src/pipeline/decode/debezium-json.js';
import { makeSource, type ClientName } from './clients/index.js';
import type { MainStream } from './main-stream.js';
import { NeighbourCpu } from './proc.js';
import { capAfter, freshGroup, round, type BenchContext } from './util.js';

export interface ConsumeResult {
  readonly client: ClientName;
  readonly records: number;
  readonly changes: number;
  readonly skips: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  /** Share of the time spent inside the decoder. */
  readonly decodeShare: number;
  readonly decodeMicrosPerRecord: number;
  /** CPU of this process (user + system, the client's own threads included) per record while consuming. */
  readonly cpuMicrosPerRecord: number;
  readonly batches: number;
  readonly avgBatch: number;
  /** Cores used meanwhile by the broker and redis-server. */
  readonly otherCores: Record<string, number>;
}

export async function consumeCeiling(ctx: BenchContext, main: MainStream, client: ClientName = 'kafkajs'): Promise<ConsumeResult> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const source = makeSource(
    client,
    ctx.brokers,
    {
      groupId: freshGroup(`consume-${client}`),
      topics: [...main.topics],
      fromBeginning: true,
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      partitionsConsumedConcurrently: 4,
      maxBytesPerPartition: 1_048_576,
      maxWaitTimeMs: 500, // as the worker's --fetch-max-wait
    },
    logger,
  );
  const decode = createDebeziumJsonDecoder(); // as the worker's createDecoder does
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
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  try {
    await source.start(
      // eslint-disable-next-line @typescript-eslint/require-await -- a throw from decode must reject: a source may call its handler synchronously
      async (batch) => {
        if (startedAt === 0) {
          startedAt = performance.now();
          cpuAtStart = process.cpuUsage();
          neighbours = new NeighbourCpu(-1);
        }
        batches++;
        const t0 = performance.now();
        for (const r of batch.records) {
          const d = decode(r);
          if (d.kind === 'change') changes++;
          else skips++;
        }
        decodeMs += performance.now() - t0;
        records += batch.records.length;
        if (batch.records.length > 0) batch.markFetched(batch.records[batch.records.length - 1]!.offset);
        if (records >= total && finishedAt === 0) {
          finishedAt = performance.now();
          cpu = process.cpuUsage(cpuAtStart);
          others = neighbours?.used() ?? {};
          resolveDone();
        }
      },
      { onAssigned: () => undefined, onCrash: (err) => rejectDone(err), onRejoining: () => undefined },
    );
    const cap = capAfter(60_000 + total / 2);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`consume ceiling (${client}): ${records}/${total} records at the time cap`)), cap - performance.now()))),
    ]).finally(() => clearTimeout(timer));
  } finally {
    source.pauseAll();
    await source.stop().catch(() => undefined);
  }
  const seconds = (finishedAt - startedAt) / 1000;
  const result: ConsumeResult = {
    client,
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
    `consume ceiling (${client}): ${records} records in ${result.seconds} s = ${result.recordsPerSecond} records/s ` +
      `(decode ${result.decodeMicrosPerRecord} µs/record, ${Math.round(result.decodeShare * 100)} % of the time; CPU ${result.cpuMicrosPerRecord} µs/record; ${batches} batches of ${result.avgBatch})`,
  );
  return result;
}
