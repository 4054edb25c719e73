/** The printed table, the ratios and the targets (reported, never failing the run). */
import type { BacklogResult } from './backlog.js';
import type { ClientName } from './clients/index.js';
import type { ConsumeResult } from './consume.js';
import type { LatencyResult } from './latency.js';
import type { MainStream } from './main-stream.js';
import type { NaiveResult } from './naive.js';
import type { RedisResult } from './redis-ceiling.js';
import type { ScalingPoint } from './scaling.js';
import { fmt, round } from './util.js';
import type { WorkerRunResult } from './worker-run.js';

/** One client of the bake-off: its consume ceiling and worker path (medians), or why it was skipped. */
export interface BakeoffEntry {
  readonly client: ClientName;
  readonly pkg: string;
  readonly version: string | undefined;
  readonly skipped?: string;
  readonly consume?: ConsumeResult;
  readonly consumeRuns?: number[];
  readonly worker?: WorkerRunResult;
  readonly workerRuns?: number[];
}

export interface Results {
  stream?: MainStream['summary'];
  bakeoff?: BakeoffEntry[];
  consume?: ConsumeResult;
  /** records/s of every run when --repeat > 1 (the median run is `consume`) */
  consumeRuns?: number[];
  redis?: RedisResult;
  naive?: NaiveResult;
  worker?: WorkerRunResult;
  /** records/s of every run when --repeat > 1 (the median run is `worker`) */
  workerRuns?: number[];
  /** --baseline: the other build's worker on the same stream, alternating with this one's (median run, every run). */
  baselineWorker?: WorkerRunResult;
  baselineRuns?: number[];
  /** µs of CPU per record of every run, this build and the baseline, in the order they ran. */
  sideBySide?: { build: 'this' | 'baseline'; recordsPerSecond: number; cpuMicrosPerRecord: number }[];
  latency?: LatencyResult;
  /** added-latency p99 of every run when --repeat > 1 (the median run is `latency`) */
  latencyRunsP99?: number[];
  backlog?: BacklogResult;
  scaling?: ScalingPoint[];
  errors: Record<string, string>;
}

export interface Target {
  readonly name: string;
  readonly status: 'PASS' | 'MISS' | 'n/a';
  readonly measured: string;
}

export interface Ratios {
  /** Redis ceiling in records/s: keys/s ÷ (keys per record × deletes per key). */
  readonly redisRecordsPerSecond: number | undefined;
  readonly workerOverCeiling: number | undefined;
  readonly workerOverConsume: number | undefined;
  readonly workerOverNaive: number | undefined;
  /** The worker's rate to its last first delete (no second-delete tail) ÷ the consume ceiling. */
  readonly firstDeletesOverConsume: number | undefined;
}

export function ratios(r: Results, delayMs: number): Ratios {
  const keysPerRecord = typeof r.stream?.['keys_per_record'] === 'number' ? r.stream['keys_per_record'] : undefined;
  const redisRecordsPerSecond = r.redis && keysPerRecord ? round(r.redis.keysPerSecond / (keysPerRecord * (delayMs > 0 ? 2 : 1))) : undefined;
  const w = r.worker?.recordsPerSecond;
  const ceilings = [r.consume?.recordsPerSecond, redisRecordsPerSecond].filter((x): x is number => x !== undefined);
  return {
    redisRecordsPerSecond,
    workerOverCeiling: w !== undefined && ceilings.length > 0 ? round(w / Math.min(...ceilings), 3) : undefined,
    workerOverConsume: w !== undefined && r.consume ? round(w / r.consume.recordsPerSecond, 3) : undefined,
    workerOverNaive: w !== undefined && r.naive ? round(w / r.naive.recordsPerSecond, 1) : undefined,
    firstDeletesOverConsume: r.worker?.firstDeleteRecordsPerSecond !== undefined && r.consume ? round(r.worker.firstDeleteRecordsPerSecond / r.consume.recordsPerSecond, 3) : undefined,
  };
}

/** Net CPU per record of each scaling point ÷ the 1-partition one. */
export function scalingSpread(points: readonly ScalingPoint[] | undefined): { min: number; max: number } | undefined {
  const base = points?.find((p) => p.partitions === 1)?.cpuMicrosPerRecordNet;
  if (!points || base === undefined || points.length < 2) return undefined;
  const rel = points.map((p) => p.cpuMicrosPerRecordNet / base);
  return { min: round(Math.min(...rel), 3), max: round(Math.max(...rel), 3) };
}

export function targets(r: Results, q: Ratios): Target[] {
  const t = (name: string, ok: boolean | undefined, measured: string): Target => ({ name, status: ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS', measured });
  const spread = scalingSpread(r.scaling);
  const m = r.backlog?.worker.memory;
  return [
    t('worker ≥ 0.8 × consume+decode ceiling', q.workerOverConsume === undefined ? undefined : q.workerOverConsume >= 0.8, q.workerOverConsume === undefined ? '—' : `${q.workerOverConsume} ×`),
    t('worker ≥ 30 × naive baseline', q.workerOverNaive === undefined ? undefined : q.workerOverNaive >= 30, q.workerOverNaive === undefined ? '—' : `${q.workerOverNaive} ×`),
    t(
      'p99 added latency < 20 ms at half load',
      r.latency ? r.latency.added.p99 < 20 && r.latency.missing === 0 : undefined,
      r.latency ? `${r.latency.added.p99} ms${r.latency.missing > 0 ? `, ${r.latency.missing} events never deleted` : ''}` : '—',
    ),
    t(
      'RSS within ±10 % of steady (backlog)',
      m ? m.peakOverSteady <= 1.1 && m.lowOverSteady >= 0.9 : undefined,
      m ? `peak/steady ${m.peakOverSteady}, second-half low/steady ${m.lowOverSteady}` : '—',
    ),
    t(
      'CPU/record within ±20 % over 1–64 partitions',
      spread && r.scaling!.some((p) => p.partitions >= 64) ? spread.min >= 0.8 && spread.max <= 1.2 : undefined,
      spread ? `net µs/record ${r.scaling!.map((p) => `${p.partitions}p ${p.cpuMicrosPerRecordNet}`).join(', ')} (${spread.min}–${spread.max} × 1 partition)` : '—',
    ),
    t('stretch: 100,000 events/s end to end', r.worker ? r.worker.recordsPerSecond >= 100_000 : undefined, r.worker ? `${fmt.int(r.worker.recordsPerSecond)} records/s` : '—'),
  ];
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

export function render(r: Results, q: Ratios, ts: readonly Target[], header: string): string {
  const rows: string[][] = [['phase', 'result', 'details']];
  const s = r.stream;
  if (r.consume) {
    const c = r.consume;
    rows.push(['1 consume+decode ceiling', `${fmt.int(c.recordsPerSecond)} records/s`, `${r.consumeRuns ? `median of ${r.consumeRuns.map(fmt.int).join(', ')}; ` : ''}decode ${c.decodeMicrosPerRecord} µs/record (${Math.round(c.decodeShare * 100)} % of wall); CPU ${c.cpuMicrosPerRecord} µs/record; batches of ${c.avgBatch}`]);
  }
  if (r.redis) {
    rows.push([
      '2 Redis ceiling',
      `${fmt.int(r.redis.multi.keysPerSecond)} keys/s`,
      `UNLINK ×512 pipelined; ×1 pipelined ${fmt.int(r.redis.single.keysPerSecond)} keys/s; = ${fmt.int(q.redisRecordsPerSecond ?? NaN)} records/s at ${s?.['keys_per_record']} keys/record × 2 deletes`,
    ]);
  }
  if (r.naive) {
    rows.push(['3 naive baseline', `${fmt.int(r.naive.recordsPerSecond)} records/s`, `${fmt.int(r.naive.delsPerSecond)} DEL/s; eachMessage, await del per key, commit per message; ${r.naive.records} records in ${r.naive.seconds} s`]);
  }
  if (r.worker) {
    const w = r.worker;
    rows.push([
      '4 worker (child process)',
      `${fmt.int(w.recordsPerSecond)} records/s`,
      `${r.workerRuns ? `median of ${r.workerRuns.map(fmt.int).join(', ')}; ` : ''}to all offsets committed in ${w.seconds} s; first deletes done at ${fmt.int(w.firstDeleteRecordsPerSecond ?? NaN)} records/s; ${fmt.int(w.keysPerSecond ?? NaN)} keys/s`,
    ]);
    const others = Object.entries(w.otherCores).map(([k, v]) => `${k} ${v}`).join(', ');
    rows.push(['', `${w.cpuMicrosPerRecord} µs CPU/record`, `${w.cores} cores busy (meanwhile ${others}); RSS peak ${fmt.mib(w.memory.peak)}, end ${fmt.mib(w.memory.last)}; ${w.commits ?? '?'} commits; startup ${w.startupSeconds} s`]);
  }
  if (r.latency) {
    const l = r.latency;
    rows.push(['5 added latency', `p50 ${l.added.p50} / p99 ${l.added.p99} / max ${l.added.max} ms`, `${r.latencyRunsP99 ? `median p99 of ${r.latencyRunsP99.join(', ')}; ` : ''}handover → first-delete ack at ${fmt.int(l.rate)} events/s for ${l.seconds} s (${l.events} events, ${l.missing} missing; batches of ${l.avgBatch}); worker event-loop delay p99 ${l.eventLoopDelayP99} ms`]);
    rows.push(['', `p50 ${l.addedRedis.p50} / p99 ${l.addedRedis.p99} / max ${l.addedRedis.max} ms`, 'handover → keyspace del event received (Redis-side cross-check, subscriber thread)']);
    rows.push(['', `p50 ${fmt.num(l.endToEnd.p50)} / p99 ${fmt.num(l.endToEnd.p99)} / max ${fmt.num(l.endToEnd.max)} ms`, `produce → first-delete ack (kafka part: produce → handover p50 ${fmt.num(l.kafka.p50)} / p99 ${fmt.num(l.kafka.p99)} ms)`]);
  }
  if (r.backlog) {
    const b = r.backlog;
    const m = b.worker.memory;
    rows.push(['6 memory under backlog', `peak ${fmt.mib(m.peak)} / steady ${fmt.mib(m.steady)}`, `${fmt.int(b.records)} records on ${b.topics} topics (${b.megabytes} MiB); peak/steady ${m.peakOverSteady}, second-half low/steady ${m.lowOverSteady}; ${fmt.int(b.worker.recordsPerSecond)} records/s; ${b.worker.cpuMicrosPerRecord} µs CPU/record`]);
    const q4 = (i: number): string => fmt.num(m.seriesMiB[Math.min(m.seriesMiB.length - 1, Math.floor((i * (m.seriesMiB.length - 1)) / 4))] ?? NaN, 0);
    rows.push(['', `RSS over the run (MiB)`, `${q4(0)} → ${q4(1)} → ${q4(2)} → ${q4(3)} → ${q4(4)} (start, quarters, end)`]);
  }
  if (r.scaling) {
    for (const p of r.scaling) {
      rows.push([p === r.scaling[0] ? '7 scaling (CPU per record)' : '', `${p.partitions} partition(s): ${p.cpuMicrosPerRecord} µs/record`, `${p.cpuMicrosPerRecordNet} µs net of idle (${p.idleCores} cores); ${p.records} records in ${p.rounds} rounds, ${p.busySeconds} s measured; batches of ~${p.batch}`]);
    }
  }
  for (const [phase, err] of Object.entries(r.errors)) rows.push([`${phase} FAILED`, '', err.slice(0, 200)]);

  const lines = [header, '', table(rows)];
  if (r.bakeoff && r.bakeoff.length > 0) {
    const base = r.bakeoff.find((b) => b.client === 'kafkajs')?.worker?.recordsPerSecond;
    const bake: string[][] = [['client', 'consume+decode ceiling', 'CPU/record', 'worker path', 'CPU/record', 'worker ÷ ceiling', 'worker ÷ kafkajs worker']];
    for (const b of r.bakeoff) {
      if (b.skipped) {
        bake.push([`${b.client}`, `skipped: ${b.skipped}`]);
        continue;
      }
      const runs = (xs: number[] | undefined) => (xs && xs.length > 1 ? ` (${xs.map(fmt.int).join(', ')})` : '');
      bake.push([
        `${b.client} ${b.version ?? ''}`,
        b.consume ? `${fmt.int(b.consume.recordsPerSecond)} records/s${runs(b.consumeRuns)}` : 'FAILED',
        b.consume ? `${b.consume.cpuMicrosPerRecord} µs` : '—',
        b.worker ? `${fmt.int(b.worker.recordsPerSecond)} records/s${runs(b.workerRuns)}` : 'FAILED',
        b.worker ? `${b.worker.cpuMicrosPerRecord} µs` : '—',
        b.worker && b.consume ? `${round(b.worker.recordsPerSecond / b.consume.recordsPerSecond, 3)}` : '—',
        b.worker && base ? `${round(b.worker.recordsPerSecond / base, 2)}` : '—',
      ]);
    }
    lines.push('', 'client bake-off (same stream, same run; medians)', table(bake));
  }
  lines.push('', 'ratios');
  lines.push(`  worker ÷ min(consume ceiling, Redis ceiling in records) = ${q.workerOverCeiling ?? '—'}`);
  lines.push(`  worker ÷ consume+decode ceiling                       = ${q.workerOverConsume ?? '—'}`);
  lines.push(`  worker ÷ naive                                        = ${q.workerOverNaive ?? '—'}`);
  const spread = scalingSpread(r.scaling);
  if (spread) lines.push(`  CPU/record over partitions ÷ 1 partition (net)        = ${spread.min}–${spread.max}`);
  lines.push(`  worker to its last first delete ÷ consume ceiling     = ${q.firstDeletesOverConsume ?? '—'}  (no second-delete tail)`);
  lines.push('', 'targets');
  for (const t of ts) lines.push(`  ${t.status.padEnd(4)}  ${t.name.padEnd(46)} ${t.measured}`);
  return lines.join('\n');
}
