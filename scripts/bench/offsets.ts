/** Watermarks and committed offsets over many topics, through one admin client. */
import type { Admin } from 'kafkajs';
import { sleep } from './proc.js';

export interface Watermarks {
  /** `topic/partition` → high watermark (next offset), partitions with data only. */
  readonly high: ReadonlyMap<string, bigint>;
  /** Records still stored (high − low), summed. */
  readonly stored: number;
  /** Records ever written (high), summed. */
  readonly written: number;
  /** Partitions whose low watermark moved: the broker dropped old record batches. */
  readonly truncated: readonly string[];
}

export async function watermarks(admin: Admin, topics: readonly string[]): Promise<Watermarks> {
  const high = new Map<string, bigint>();
  let stored = 0;
  let written = 0;
  const truncated: string[] = [];
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const h = BigInt(p.high);
      const l = BigInt(p.low);
      if (h > 0n) high.set(`${topic}/${p.partition}`, h);
      stored += Number(h - l);
      written += Number(h);
      if (l > 0n) truncated.push(`${topic}/${p.partition} low=${l}`);
    }
  }
  return { high, stored, written, truncated };
}

/** Records of `ends` the group has not committed yet (0 = all committed). */
export async function uncommitted(admin: Admin, group: string, topics: readonly string[], ends: ReadonlyMap<string, bigint>): Promise<number> {
  const committed = new Map<string, bigint>();
  for (const t of await admin.fetchOffsets({ groupId: group, topics: [...topics] })) {
    for (const p of t.partitions) committed.set(`${t.topic}/${p.partition}`, BigInt(p.offset));
  }
  let behind = 0n;
  for (const [tp, high] of ends) {
    const c = committed.get(tp) ?? -1n;
    behind += c < 0n ? high : c < high ? high - c : 0n;
  }
  return Number(behind);
}

/** Polls until the group committed every end offset; resolves with the time it saw that. */
export async function waitCommitted(
  admin: Admin,
  group: string,
  topics: readonly string[],
  ends: ReadonlyMap<string, bigint>,
  deadline: number,
  what: string,
  intervalMs = 100,
): Promise<number> {
  for (;;) {
    const left = await uncommitted(admin, group, topics, ends);
    if (left === 0) return performance.now();
    if (performance.now() > deadline) throw new Error(`${what}: ${left} records still uncommitted at the time cap`);
    await sleep(intervalMs);
  }
}
