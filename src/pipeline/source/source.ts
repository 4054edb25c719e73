import type { TopicPartitionOffset } from '../../domain/types.js';
import type { SourceRecord } from '../../domain/types.js';

/** One fetched batch of one partition, with the controls the consumer loop needs while it waits. */
export interface SourceBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly SourceRecord[];
  /** The partition's end offset when the batch was fetched (for consumer lag), if known. */
  readonly highWatermark?: string;
  /** Keeps group membership alive during a long wait; throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the batch is stale (rebalance, seek) or the consumer is stopping. */
  isActive(): boolean;
  /** Lets the source fetch past `offset` (it is handed over; commits stay ours). */
  markFetched(offset: string): void;
}

export type BatchHandler = (batch: SourceBatch) => Promise<void>;

export interface SourceEvents {
  /** A new group generation: the assignment may have changed. */
  onAssigned(assignment: ReadonlyMap<string, readonly number[]>): void;
  /** The consumer crashed and will not restart by itself. */
  onCrash(err: Error): void;
}

/** The port the pipeline reads through (kafkajs today; another client later). */
export interface Source {
  start(handler: BatchHandler, events: SourceEvents): Promise<void>;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Stops fetching new batches (batches in flight finish); the group membership stays. */
  pauseAll(): void;
  /** Leaves the group and disconnects. */
  stop(): Promise<void>;
}
