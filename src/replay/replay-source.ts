import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { TopicPartitionOffset } from '../domain/types.js';
import type { BatchHandler, Source, SourceEvents } from '../pipeline/source/source.js';
import { toSourceBatch } from '../pipeline/source/kafkajs-batch.js';

/** [from, to) per partition of one topic. */
export interface TopicRange {
  readonly topic: string;
  readonly ranges: ReadonlyMap<number, { readonly from: bigint; readonly to: bigint }>;
}

export interface ReplaySourceOptions {
  readonly ranges: readonly TopicRange[];
  /** Throwaway group: replays never read or move the live group's offsets. */
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
}

/**
 * Reads fixed offset windows. kafkajs has no manual assignment, so it joins a throwaway group of
 * its own (never committing), seeks every partition to its start, hands over only records inside
 * the window, and reports when every partition has reached its end.
 */
export class ReplaySource implements Source {
  readonly #consumer: Consumer;
  readonly #remaining = new Set<string>();
  #onAllDone: (() => void) | undefined;
  readonly #total: number;
  readonly done: Promise<void>;

  constructor(kafka: Kafka, private readonly opts: ReplaySourceOptions, private readonly logger: Logger) {
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      rebalanceTimeout: opts.rebalanceTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
    });
    for (const t of opts.ranges) for (const [p, r] of t.ranges) if (r.to > r.from) this.#remaining.add(`${t.topic}\u0000${p}`);
    this.done = new Promise((resolve) => (this.#onAllDone = resolve));
    this.#total = this.#remaining.size;
    if (this.#remaining.size === 0) this.#onAllDone?.();
  }

  /** Partitions whose window still has records to read. */
  get remaining(): number {
    return this.#remaining.size;
  }

  #range(topic: string, partition: number): { from: bigint; to: bigint } | undefined {
    return this.opts.ranges.find((t) => t.topic === topic)?.ranges.get(partition);
  }

  async start(handler: BatchHandler, events: SourceEvents): Promise<void> {
    const c = this.#consumer;
    c.on(c.events.GROUP_JOIN, (e) => events.onAssigned(new Map(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps]]))));
    c.on(c.events.CRASH, (e) => {
      const { error, restart } = e.payload as { error: Error; restart: boolean };
      if (!restart) events.onCrash(error);
    });
    // A batch of nothing but control records (a transaction's commit marker) never reaches eachBatch:
    // kafkajs resolves it itself. When such a batch ends at or past the window's end, the window is done.
    c.on(c.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.batchSize === 0) this.#reached(e.payload.topic, e.payload.partition, BigInt(e.payload.lastOffset));
    });
    await c.connect();
    await c.subscribe({ topics: this.opts.ranges.map((t) => t.topic), fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (p) => this.#batch(p, handler),
    });
    for (const t of this.opts.ranges) {
      for (const [partition, r] of t.ranges) c.seek({ topic: t.topic, partition, offset: r.from.toString() });
    }
  }

  async #batch(p: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { topic, partition } = p.batch;
    const id = `${topic}\u0000${partition}`;
    const range = this.#range(topic, partition);
    if (!range || !this.#remaining.has(id)) return;
    // The batch's last offset counts control records (transaction markers) too: a window that ends
    // on a marker ends although no record of the batch carries the offset before `to`.
    const lastOffset = BigInt(p.batch.lastOffset());
    const inside = p.batch.messages.filter((m) => BigInt(m.offset) >= range.from && BigInt(m.offset) < range.to);
    if (inside.length > 0) {
      await handler(toSourceBatch(p, inside));
    } else if (p.batch.messages.length > 0) {
      p.resolveOffset(p.batch.lastOffset());
    }
    this.#reached(topic, partition, lastOffset);
  }

  /** The partition was read up to `lastOffset`: done when that is the window's last offset or past it. */
  #reached(topic: string, partition: number, lastOffset: bigint): void {
    const id = `${topic}\u0000${partition}`;
    const range = this.#range(topic, partition);
    if (!range || !this.#remaining.has(id) || lastOffset < range.to - 1n) return;
    this.#remaining.delete(id);
    this.#consumer.pause([{ topic, partitions: [partition] }]);
    this.logger.debug({ topic, partition }, 'replay window done');
    if (this.#remaining.size === 0) this.#onAllDone?.();
  }

  /** Partitions with records in the window. */
  get total(): number {
    return this.#total;
  }

  /** A replay never commits: the live group's offsets stay where they are. */
  async commit(_offsets: readonly TopicPartitionOffset[]): Promise<void> {}

  pauseAll(): void {
    this.#consumer.pause(this.opts.ranges.map((t) => ({ topic: t.topic })));
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect();
  }
}
