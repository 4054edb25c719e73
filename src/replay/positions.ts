import { parseDuration } from '../util/duration.js';

/**
 * Where a replay starts or stops: `earliest`, `latest`/`now`, an ISO-8601 timestamp, a duration
 * ago (`2h`, `90m`), or per-partition offsets (`0:1200,1:900`).
 */
export type Position =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'timestamp'; readonly ms: number }
  | { readonly kind: 'offsets'; readonly offsets: ReadonlyMap<number, bigint> };

export function parsePosition(value: string, now: () => number = Date.now): Position {
  const v = value.trim();
  if (v === 'earliest') return { kind: 'earliest' };
  if (v === 'latest' || v === 'now') return { kind: 'latest' };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(v)) {
    const offsets = new Map<number, bigint>();
    for (const pair of v.split(',')) {
      const [p, o] = pair.split(':');
      offsets.set(Number(p), BigInt(o!));
    }
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
  throw new RangeError(`"${value}" is not a position: use earliest, latest, now, an ISO-8601 time, a duration ago (2h) or partition:offset pairs (0:1200,1:900)`);
}

/** What the broker says about one partition, and how to look an offset up by time. */
export interface PartitionInfo {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export type OffsetsForTime = (ms: number) => Promise<ReadonlyMap<number, bigint>>;

/** Resolves a position to an offset per partition, clamped to [low, high]. */
export async function resolvePosition(pos: Position, partitions: readonly PartitionInfo[], forTime: OffsetsForTime): Promise<Map<number, bigint>> {
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
      case 'offsets':
        o = pos.offsets.get(p.partition) ?? p.low;
        break;
    }
    out.set(p.partition, o < p.low ? p.low : o > p.high ? p.high : o);
  }
  return out;
}
