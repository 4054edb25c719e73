import type { TopicPartitionOffset } from '../../domain/types.js';

/**
 * Tracks, per partition, which fetched ranges are fully invalidated (first and second delete
 * acknowledged) and yields the offsets that are safe to commit: the end of the longest completed
 * prefix. Ranges complete out of order; a gap is never committed past.
 */
/** One contiguous range of a partition handed to the pipeline. Complete it exactly once. */
export interface WorkUnit {
  readonly topic: string;
  readonly partition: number;
  readonly lastOffset: string;
  complete(): void;
}

interface Range {
  readonly next: bigint; // lastOffset + 1
  done: boolean;
}

class PartitionProgress {
  readonly #ranges: Range[] = [];
  #head = 0;
  /** The committable next-offset reached so far; null before anything completed. */
  safe: bigint | null = null;
  committed: bigint | null = null;

  add(next: bigint): Range {
    const r: Range = { next, done: false };
    this.#ranges.push(r);
    return r;
  }

  advance(): void {
    while (this.#head < this.#ranges.length && this.#ranges[this.#head]!.done) {
      this.safe = this.#ranges[this.#head]!.next;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ranges.length) {
      this.#ranges.splice(0, this.#head);
      this.#head = 0;
    }
  }

  get pending(): number {
    return this.#ranges.length - this.#head;
  }
}

export class OffsetTracker {
  #partitions = new Map<string, { topic: string; partition: number; progress: PartitionProgress }>();
  #generation = 0;

  /** Registers a fetched range [.., lastOffset]; ranges of one partition must come in order. */
  begin(topic: string, partition: number, lastOffset: string): WorkUnit {
    const id = `${topic}\u0000${partition}`;
    let p = this.#partitions.get(id);
    if (!p) {
      p = { topic, partition, progress: new PartitionProgress() };
      this.#partitions.set(id, p);
    }
    const progress = p.progress;
    const range = progress.add(BigInt(lastOffset) + 1n);
    let completed = false;
    return {
      topic,
      partition,
      lastOffset,
      complete: () => {
        if (completed) return;
        completed = true;
        range.done = true;
        progress.advance();
      },
    };
  }

  /** Offsets that advanced since they were last marked committed. */
  committable(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const { topic, partition, progress } of this.#partitions.values()) {
      if (progress.safe !== null && progress.safe !== progress.committed) {
        out.push({ topic, partition, offset: progress.safe.toString() });
      }
    }
    return out;
  }

  markCommitted(offsets: readonly TopicPartitionOffset[]): void {
    for (const o of offsets) {
      const p = this.#partitions.get(`${o.topic}\u0000${o.partition}`);
      if (p) {
        const v = BigInt(o.offset);
        if (p.progress.committed === null || v > p.progress.committed) p.progress.committed = v;
      }
    }
  }

  /**
   * Forgets every partition (on a rebalance): work still in flight completes into the old,
   * detached state and is never committed; the partition's next owner replays it.
   */
  reset(): void {
    this.#partitions = new Map();
    this.#generation++;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Ranges handed out and not yet completed, over all partitions. */
  get pendingRanges(): number {
    let n = 0;
    for (const { progress } of this.#partitions.values()) n += progress.pending;
    return n;
  }
}
