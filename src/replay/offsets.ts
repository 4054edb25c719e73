import type { Admin } from 'kafkajs';
import { namedOffsets, resolvePosition, type PartitionInfo, type Position } from './positions.js';

export interface PartitionOffsets {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed next offset; -1 when none. */
  readonly committed: bigint;
  readonly end: bigint;
  readonly lag: bigint;
}

/** Per partition: the group's committed offset, the end offset and the lag. */
export async function showOffsets(admin: Admin, groupId: string, topics: readonly string[]): Promise<PartitionOffsets[]> {
  const out: PartitionOffsets[] = [];
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const e of ends.sort((a, b) => a.partition - b.partition)) {
      const c = BigInt(mine.find((m) => m.partition === e.partition)?.offset ?? '-1');
      const end = BigInt(e.high);
      const from = c >= 0n ? c : BigInt(e.low);
      out.push({ topic, partition: e.partition, committed: c, end, lag: end - from });
    }
  }
  return out;
}

export type ResetTarget = { readonly kind: 'position'; readonly position: Position } | { readonly kind: 'shift'; readonly by: bigint };

export interface ResetStep {
  readonly topic: string;
  readonly partition: number;
  readonly current: bigint;
  readonly target: bigint;
}

/**
 * The plan of a reset, like `kafka-consumer-groups --reset-offsets` without `--execute`. Offsets of
 * named partitions (`topic:partition:offset`) move only those partitions; a partition that does not
 * exist is a ConfigError.
 */
export async function planReset(admin: Admin, groupId: string, topics: readonly string[], target: ResetTarget): Promise<ResetStep[]> {
  const current = await showOffsets(admin, groupId, topics);
  const partitionsOf = new Map<string, PartitionInfo[]>();
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    partitionsOf.set(topic, ends.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })).sort((a, b) => a.partition - b.partition));
  }
  const named = target.kind === 'position' && target.position.kind === 'offsets' ? namedOffsets(target.position, '--to', partitionsOf) : undefined;
  const steps: ResetStep[] = [];
  for (const [topic, all] of partitionsOf) {
    if (named && !named.has(topic)) continue; // not named: left alone
    const partitions = named ? all.filter((p) => named.get(topic)!.has(p.partition)) : all;
    let targets: Map<number, bigint>;
    if (target.kind === 'position') {
      targets = await resolvePosition(
        target.position,
        partitions,
        async (ms) => {
          const found = await admin.fetchTopicOffsetsByTimestamp(topic, ms);
          return new Map(found.filter((f) => BigInt(f.offset) >= 0n).map((f) => [f.partition, BigInt(f.offset)]));
        },
        named?.get(topic),
      );
    } else {
      targets = new Map();
      for (const p of partitions) {
        const cur = current.find((c) => c.topic === topic && c.partition === p.partition)?.committed ?? -1n;
        const base = cur >= 0n ? cur : p.low;
        const shifted = base + target.by;
        targets.set(p.partition, shifted < p.low ? p.low : shifted > p.high ? p.high : shifted);
      }
    }
    for (const p of partitions) {
      const cur = current.find((c) => c.topic === topic && c.partition === p.partition)?.committed ?? -1n;
      steps.push({ topic, partition: p.partition, current: cur, target: targets.get(p.partition)! });
    }
  }
  return steps;
}

/** Applies a reset plan; refuses while the group has members (they would overwrite it). */
export async function executeReset(admin: Admin, groupId: string, steps: readonly ResetStep[]): Promise<void> {
  let groups;
  try {
    ({ groups } = await admin.describeGroups([groupId]));
  } catch (e) {
    // Unsure is a no: resetting under live members would be overwritten, or steal their partitions.
    throw new Error(`cannot check that group ${groupId} has no active members (${(e as Error).message}); refusing to reset`);
  }
  const g = groups[0];
  if (g && g.members.length > 0) {
    throw new Error(`group ${groupId} has ${g.members.length} active member(s) (state ${g.state}): stop the workers first`);
  }
  const byTopic = new Map<string, ResetStep[]>();
  for (const s of steps) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s]);
  for (const [topic, list] of byTopic) {
    await admin.setOffsets({ groupId, topic, partitions: list.map((s) => ({ partition: s.partition, offset: s.target.toString() })) });
  }
}
