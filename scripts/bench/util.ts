import type { Redis } from 'ioredis';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { BenchBroker } from './broker.js';
import type { BenchOptions } from './options.js';

/** What every phase needs: the servers, the clients, the options. */
export interface BenchContext {
  readonly opts: BenchOptions;
  readonly broker: BenchBroker;
  readonly brokers: readonly string[];
  readonly redisUrl: string;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: Producer;
  /** The bench's own Redis client (offline queue on). */
  readonly redis: Redis;
  readonly log: (line: string) => void;
}

let groupSeq = 0;
/** A consumer group nobody used before. */
export function freshGroup(what: string): string {
  return `bench-${what}-${Date.now().toString(36)}-${++groupSeq}`;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export interface Distribution {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function distribution(values: readonly number[]): Distribution {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: round(percentile(s, 50), 2),
    p90: round(percentile(s, 90), 2),
    p99: round(percentile(s, 99), 2),
    max: round(s[s.length - 1] ?? NaN, 2),
    mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1), 2),
  };
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Deadline (performance.now) `ms` from now. */
export function capAfter(ms: number): number {
  return performance.now() + ms;
}

/** SETs every key (value "cached"), pipelined in chunks; returns how many distinct keys were set. */
export async function cacheKeys(redis: Redis, keys: Iterable<string>): Promise<number> {
  let chunk: string[] = [];
  let n = 0;
  let pending: Promise<unknown>[] = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    pending.push(redis.mset(...chunk));
    chunk = [];
    if (pending.length >= 8) {
      await Promise.all(pending);
      pending = [];
    }
  };
  for (const k of keys) {
    chunk.push(k, 'cached');
    n++;
    if (chunk.length >= 2000) await flush();
  }
  await flush();
  await Promise.all(pending);
  return n;
}

export const fmt = {
  int: (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—'),
  num: (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '—'),
  mib: (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)} MiB` : '—'),
};
