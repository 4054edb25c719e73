import type { Logger } from 'pino';

/** The offsets the guard looks up (kafkajs' admin in production, a fake in tests). */
export interface PartitionOffsetsPort {
  /** The group's committed next offsets of these topics' partitions (negative: none). */
  committed(topics: readonly string[]): Promise<ReadonlyMap<string, bigint>>;
  /** The first offset still in each partition's log (the log start). */
  logStart(topic: string): Promise<ReadonlyMap<number, bigint>>;
}

/** Records the worker never saw: removed (retention, DeleteRecords) before the group read them. */
export interface RetentionLoss {
  readonly topic: string;
  readonly partition: number;
  /** The offset the group was at. */
  readonly from: bigint;
  /** Where consumption goes on (the log start then). */
  readonly to: bigint;
  readonly lost: bigint;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * Notices records lost to retention. When a partition's position is below its log start the
 * broker answers OFFSET_OUT_OF_RANGE and kafkajs moves the position to its reset offset (always the
 * earliest here) without a word. The guard knows where each partition should go on — the committed
 * offset when the partition is assigned, then past what the pipeline handed back — and compares it
 * with where kafkajs fetched from; a jump forward past the log start is a loss: reported with the
 * partition and the count, and consumption goes on at the earliest available offset.
 */
export class RetentionGuard {
  #expected = new Map<string, bigint>();
  #snapshot: Promise<void> = Promise.resolve();
  #generation = 0;

  constructor(
    private readonly port: PartitionOffsetsPort,
    private readonly onLoss: (loss: RetentionLoss) => void,
    private readonly logger: Logger,
  ) {}

  /** A new assignment: learn where each partition resumes; a committed offset below the log start is a loss at once. */
  assigned(assignment: ReadonlyMap<string, readonly number[]>): void {
    const generation = ++this.#generation;
    this.#expected = new Map();
    const expected = this.#expected;
    this.#snapshot = (async () => {
      const topics = [...assignment.keys()].filter((t) => (assignment.get(t)?.length ?? 0) > 0);
      if (topics.length === 0) return;
      const committed = await this.port.committed(topics);
      for (const topic of topics) {
        const starts = await this.port.logStart(topic);
        for (const partition of assignment.get(topic) ?? []) {
          const c = committed.get(partitionKey(topic, partition));
          if (c === undefined || c < 0n) continue; // no offset: the partition starts at the earliest, nothing was skipped
          const low = starts.get(partition) ?? 0n;
          if (generation !== this.#generation) return;
          if (c < low) {
            this.#report({ topic, partition, from: c, to: low, lost: low - c });
            expected.set(partitionKey(topic, partition), low);
          } else expected.set(partitionKey(topic, partition), c);
        }
      }
    })().catch((e: unknown) => this.logger.warn({ err: e }, 'could not compare committed offsets with the log start (records lost to retention may go unreported)'));
  }

  /** Before a batch is handed over: where kafkajs fetched it from. */
  async fetched(topic: string, partition: number, fetchedOffset: bigint): Promise<void> {
    await this.#snapshot;
    const key = partitionKey(topic, partition);
    const expected = this.#expected.get(key);
    this.#expected.set(key, fetchedOffset);
    if (expected === undefined || fetchedOffset <= expected) return;
    // The position jumped forward: kafkajs reset it. Only records below the log start are lost.
    let low: bigint | undefined;
    try {
      low = (await this.port.logStart(topic)).get(partition);
    } catch (e) {
      this.logger.warn({ err: e, topic, partition }, 'could not read the log start after a jump of the fetch position');
      return;
    }
    if (low === undefined || low <= expected) return;
    const to = low < fetchedOffset ? low : fetchedOffset;
    this.#report({ topic, partition, from: expected, to, lost: to - expected });
  }

  /** The position kafkajs goes on from (past what was handed back, or past a batch of control records only). */
  advanced(topic: string, partition: number, next: bigint): void {
    const key = partitionKey(topic, partition);
    const cur = this.#expected.get(key);
    if (cur === undefined || next > cur) this.#expected.set(key, next);
  }

  #report(loss: RetentionLoss): void {
    this.logger.error(
      { topic: loss.topic, partition: loss.partition, lost: Number(loss.lost), fromOffset: loss.from.toString(), toOffset: loss.to.toString() },
      `records lost to retention: ${loss.lost} record(s) of ${loss.topic}/${loss.partition} (offsets ${loss.from}–${loss.to - 1n}) were removed before the group read them; their invalidations are lost, consuming from the earliest available offset ${loss.to}`,
    );
    this.onLoss(loss);
  }
}
