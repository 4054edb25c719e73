import type { Logger } from 'pino';
import type { InitialPosition } from '../../config/values.js';

export type { InitialPosition };

/** What deciding the start needs from the cluster (kafkajs' admin in production, a fake in tests). */
export interface GroupStartPort {
  /** Whether the group has committed an offset for any topic at all. */
  groupHasOffsets(): Promise<boolean>;
  /** Per partition of `topic`: the end offset (latest), or the first offset at or after `ms` (the end where none). */
  offsetsAt(topic: string, position: Exclude<InitialPosition, { kind: 'earliest' }>): Promise<ReadonlyMap<number, bigint>>;
  /** Commits these offsets for the group (which must have no members). */
  setOffsets(topic: string, offsets: ReadonlyMap<number, bigint>): Promise<void>;
}

export function describePosition(p: InitialPosition): string {
  return p.kind === 'timestamp' ? `the first records since ${new Date(p.ms).toISOString()}` : `the ${p.kind} offsets`;
}

/**
 * The start rule. A group that has committed nothing at all starts where --initial-position says;
 * a later position (latest, a time) is committed for it before it joins, so a crash before its first
 * commit resumes from there instead of deciding anew. Everything else — a partition or a topic
 * without a committed offset in a group that has offsets (new partitions, a new topic, expired
 * offsets) — starts at the earliest offset (the consumer's reset policy is always earliest).
 * Returns whether this was the group's first start.
 */
export async function applyInitialPosition(port: GroupStartPort, group: string, topics: readonly string[], position: InitialPosition, logger: Logger): Promise<boolean> {
  if (await port.groupHasOffsets()) {
    logger.info({ group }, 'the group has committed offsets: it resumes from them; partitions without one start at the earliest offset');
    return false;
  }
  const where = describePosition(position);
  if (position.kind === 'earliest') {
    logger.warn({ group, initialPosition: 'earliest', topics }, `first start of group ${group} (no committed offsets): starting at ${where}, every record in the topics is read`);
    return true;
  }
  for (const topic of topics) {
    const offsets = await port.offsetsAt(topic, position);
    try {
      await port.setOffsets(topic, offsets);
    } catch (e) {
      // Another member of a brand-new group got there first (the group is no longer empty): it decided.
      if (await port.groupHasOffsets()) {
        logger.info({ group, topic, err: e }, 'the group started meanwhile (another member): resuming from its offsets');
        return false;
      }
      throw e;
    }
  }
  logger.warn(
    { group, initialPosition: position.kind, topics },
    `first start of group ${group} (no committed offsets): starting at ${where} (--initial-position); records already in the topics are NOT invalidated. From now on every partition without a committed offset starts at the earliest offset`,
  );
  return true;
}
