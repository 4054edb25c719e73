/**
 * The inspector's pending checks: a bounded FIFO of items, each due a fixed delay after it was added.
 * With one delay and a monotonic clock, due times only grow, so one timer (for the head) is enough and
 * adding is O(1). At `capacity` items, `add` refuses (the caller counts the drop): memory stays bounded
 * whatever the change rate. Due items are handed over in batches of at most `batchSize`.
 */
export interface PendingChecksOptions<T> {
  readonly delayMs: number;
  readonly capacity: number;
  readonly batchSize: number;
  /** Receives due items (in the order they were added). */
  readonly onDue: (items: T[]) => void;
  readonly now?: () => number;
}

export class PendingChecks<T> {
  readonly #items: T[] = [];
  readonly #due: number[] = [];
  /** Index of the head in the arrays (compacted now and then, not shifted per item). */
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #now: () => number;

  constructor(private readonly opts: PendingChecksOptions<T>) {
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Queues `item` to be due `delayMs` from now; false (nothing queued) when full or closed. */
  add(item: T): boolean {
    if (this.#closed || this.size >= this.opts.capacity) return false;
    this.#items.push(item);
    this.#due.push(this.#now() + this.opts.delayMs);
    this.#arm();
    return true;
  }

  /** Drops everything pending and stops the timer; later adds are refused. Returns how many were dropped. */
  close(): number {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const dropped = this.size;
    this.#items.length = 0;
    this.#due.length = 0;
    this.#head = 0;
    return dropped;
  }

  #arm(): void {
    if (this.#timer || this.size === 0 || this.#closed) return;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, this.#due[this.#head]! - this.#now()));
    this.#timer.unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#now();
    // Bounded: at most every pending item, in batches.
    while (this.size > 0 && this.#due[this.#head]! <= now) {
      const end = Math.min(this.#items.length, this.#head + this.opts.batchSize);
      let stop = this.#head;
      while (stop < end && this.#due[stop]! <= now) stop++;
      const batch = this.#items.slice(this.#head, stop);
      this.#head = stop;
      this.opts.onDue(batch);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#due.splice(0, this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}
