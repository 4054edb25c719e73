import { ConfigError } from '../config/errors.js';
import { parseDuration } from '../util/duration.js';

/** One `topic:partition:offset` (or, for a single topic, `partition:offset`) of a position. */
export interface PartitionOffset {
  /** Absent in the short form `partition:offset`, which needs exactly one topic. */
  readonly topic?: string;
  readonly partition: number;
  readonly offset: bigint;
}

/**
 * Where a replay starts or stops, or where `offsets reset` moves a group: `earliest`,
 * `latest`/`now`, an ISO-8601 timestamp, a duration ago (`2h`, `90m`), or offsets of named
 * partitions (`orders:0:1200,orders:1:900`; `0:1200` when a single topic is selected) — partitions
 * not named are left alone.
 */
export type Position =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'timestamp'; readonly ms: number }
  | { readonly kind: 'offsets'; readonly offsets: readonly PartitionOffset[] };

const ITEM = /^(?:([a-zA-Z0-9._-]{1,249}):)?(\d{1,10}):(\d{1,19})$/;

export function parsePosition(value: string, now: () => number = Date.now): Position {
  const v = value.trim();
  if (v === 'earliest') return { kind: 'earliest' };
  if (v === 'latest' || v === 'now') return { kind: 'latest' };
  const items = v.split(',').map((x) => x.trim());
  if (items.every((x) => ITEM.test(x))) {
    const offsets = items.map((x) => {
      const [, topic, p, o] = ITEM.exec(x)!;
      return { ...(topic ? { topic } : {}), partition: Number(p), offset: BigInt(o!) };
    });
    return { kind: 'offsets', offsets };
  }
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(v) || /^\d+d$/.test(v)) {
    const ms = v.endsWith('d') ? Number(v.slice(0, -1)) * 86_400_000 : parseDuration(v);
    return { kind: 'timestamp', ms: now() - ms };
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return { kind: 'timestamp', ms };
  }
  throw new RangeError(
    `"${value}" is not a position: use earliest, latest, now, an ISO-8601 time, a duration ago (2h) or topic:partition:offset (orders:0:1200,orders:1:900; partition:offset with a single topic)`,
  );
}

/** What the broker says about one partition, and how to look an offset up by time. */
export interface PartitionInfo {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export type OffsetsForTime = (ms: number) => Promise<ReadonlyMap<number, bigint>>;

/**
 * The named offsets of an `offsets` position, per topic, checked against the cluster: the short
 * form needs exactly one topic, a topic must be among the selected ones, a partition must exist.
 * Throws ConfigError naming the flag.
 */
export function namedOffsets(pos: Extract<Position, { kind: 'offsets' }>, flag: string, partitionsOf: ReadonlyMap<string, readonly PartitionInfo[]>): Map<string, Map<number, bigint>> {
  const topics = [...partitionsOf.keys()];
  const out = new Map<string, Map<number, bigint>>();
  for (const o of pos.offsets) {
    let topic = o.topic;
    if (topic === undefined) {
      if (topics.length !== 1) throw new ConfigError(`${flag}: "${o.partition}:${o.offset}" names no topic and ${topics.length} topics are selected: write topic:partition:offset`);
      topic = topics[0]!;
    }
    const partitions = partitionsOf.get(topic);
    if (!partitions) throw new ConfigError(`${flag}: topic "${topic}" is not one of the selected topics (${topics.join(', ') || 'none'})`);
    if (!partitions.some((p) => p.partition === o.partition)) {
      throw new ConfigError(`${flag}: ${topic} has no partition ${o.partition} (it has ${partitions.length}: 0–${partitions.length - 1})`);
    }
    let m = out.get(topic);
    if (!m) out.set(topic, (m = new Map<number, bigint>()));
    if (m.has(o.partition)) throw new ConfigError(`${flag}: ${topic}:${o.partition} is named twice`);
    m.set(o.partition, o.offset);
  }
  return out;
}

/**
 * Resolves a position to an offset per partition, clamped to [low, high]. An `offsets` position
 * gives only its named partitions (`named`: this topic's, from namedOffsets).
 */
export async function resolvePosition(pos: Position, partitions: readonly PartitionInfo[], forTime: OffsetsForTime, named?: ReadonlyMap<number, bigint>): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  const byTime = pos.kind === 'timestamp' ? await forTime(pos.ms) : undefined;
  for (const p of partitions) {
    let o: bigint;
    switch (pos.kind) {
      case 'earliest':
        o = p.low;
        break;
      case 'latest':
        o = p.high;
        break;
      case 'timestamp':
        o = byTime?.get(p.partition) ?? p.high; // no record at or after the time: the end
        break;
      case 'offsets': {
        const n = named?.get(p.partition);
        if (n === undefined) continue; // not named: left alone
        o = n;
        break;
      }
    }
    out.set(p.partition, o < p.low ? p.low : o > p.high ? p.high : o);
  }
  return out;
}

/** A position as a moment, for comparing two of them: earliest before every time, latest is now. */
function moment(p: Position, now: number): number | undefined {
  if (p.kind === 'earliest') return -Infinity;
  if (p.kind === 'latest') return now;
  if (p.kind === 'timestamp') return p.ms;
  return undefined;
}

function describeFlag(flag: string, value: string): string {
  return `${flag} ${value}`;
}

/**
 * Refuses a window whose start lies after its end (`--from latest --to earliest`, `--from 2h --to
 * 3h`): by the positions themselves, and per partition once resolved. Throws ConfigError.
 */
export function checkWindowOrder(from: { pos: Position; text: string }, to: { pos: Position; text: string }, now: number = Date.now()): void {
  const a = moment(from.pos, now);
  const b = moment(to.pos, now);
  if (a !== undefined && b !== undefined && a > b) {
    throw new ConfigError(`the window is inverted: ${describeFlag('--from', from.text)} is after ${describeFlag('--to', to.text)} (the window is [from, to))`);
  }
}

/** Per partition: a resolved start after its end is an inverted window. */
export function checkResolvedOrder(topic: string, start: ReadonlyMap<number, bigint>, end: ReadonlyMap<number, bigint>, from: string, to: string): void {
  for (const [p, s] of start) {
    const e = end.get(p);
    if (e !== undefined && s > e) throw new ConfigError(`the window is inverted: --from ${from} is after --to ${to} on ${topic}/${p} (offset ${s} > ${e})`);
  }
}
