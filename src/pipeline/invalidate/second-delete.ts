/**
 * The delayed second delete. A reader that fetched a row just before the commit can write the
 * old value back after the first delete; deleting the same keys again after a delay clobbers it.
 *
 * Work is collected in time buckets (ticks of delay / 20, at most 100 ms): every schedule() call
 * joins the bucket due at `now + delay` rounded up to the tick, so it never fires early. A bucket
 * is one Redis pass over the lists of all the calls in it, and `done` of each call runs once that
 * pass was acknowledged; it never runs for work that was abandoned. Scheduling costs O(1) per
 * call, not per key: the worker is CPU-bound, Redis is not, so a key repeated by batches within
 * one tick is simply sent twice in one UNLINK rather than de-duplicated here. Names stay grouped by
 * the mapping that named them, so what the pass removed is counted per mapping.
 */
import type { NameGroup } from '../map/batch-plan.js';

export interface SecondDeleteOptions {
  readonly delayMs: number;
  /** Called with the names of one due bucket, one group per mapping; resolves once Redis acknowledged (retrying inside). */
  readonly unlink: (groups: NameGroup[]) => Promise<void>;
  /** A failure of unlink that it could not retry away (fatal error, shutdown). */
  readonly onError: (err: unknown) => void;
  readonly now?: () => number;
}

interface Bucket {
  readonly fireAt: number;
  /** When the first call joined it: the oldest first delete this bucket holds back. */
  readonly since: number;
  /** The name groups of the schedule() calls in this bucket (not copied: callers hand them over). */
  readonly lists: (readonly NameGroup[])[];
  readonly waiters: (() => void)[];
  names: number;
}

export class SecondDeleteScheduler {
  readonly #buckets: Bucket[] = []; // pending, sorted by fireAt
  readonly #tickMs: number;
  readonly #now: () => number;
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  #firing: Promise<void> | undefined;
  /** The `since` of the oldest bucket being deleted now (retried while Redis is down). */
  #firingSince: number | undefined;
  #abandoned = false;
  #idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: SecondDeleteOptions) {
    this.#tickMs = Math.min(100, Math.max(5, Math.floor(opts.delayMs / 20)));
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.delayMs > 0;
  }

  /** Names with a second delete still to do (repeats counted). */
  get pendingKeys(): number {
    return this.#pending;
  }

  /** Deletes the names again `delayMs` from now; `done` once that was acknowledged. `groups` must not change afterwards. */
  schedule(groups: readonly NameGroup[], done: () => void): void {
    let names = 0;
    for (const g of groups) names += g.names.length;
    if (!this.enabled || names === 0 || this.#abandoned) {
      if (!this.#abandoned) done();
      return;
    }
    const now = this.#now();
    const fireAt = Math.ceil((now + this.opts.delayMs) / this.#tickMs) * this.#tickMs;
    const bucket = this.#bucketAt(fireAt, now);
    bucket.lists.push(groups);
    bucket.waiters.push(done);
    bucket.names += names;
    this.#pending += names;
    this.#arm();
  }

  /** Resolves when every scheduled second delete was done (each at its time). */
  drain(): Promise<void> {
    if (this.#buckets.length === 0 && !this.#firing) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops what is pending: its `done` callbacks never run, so nothing is committed past it. */
  abandon(): number {
    this.#abandoned = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const dropped = this.#pending;
    this.#buckets.length = 0;
    this.#firingSince = undefined;
    this.#pending = 0;
    this.#notifyIdle();
    return dropped;
  }

  /**
   * When the oldest pending work was scheduled (its first delete acknowledged): its offsets, and
   * everything after them in its partition, are held back from the commit since then. Undefined
   * when nothing is pending.
   */
  oldestPendingSince(): number | undefined {
    const queued = this.#buckets[0]?.since;
    if (this.#firingSince === undefined) return queued;
    return queued === undefined ? this.#firingSince : Math.min(queued, this.#firingSince);
  }

  #bucketAt(fireAt: number, now: number): Bucket {
    const last = this.#buckets[this.#buckets.length - 1];
    if (last && last.fireAt === fireAt) return last;
    // Buckets are created in time order with one delay (and a monotonic clock); keep sorted anyway.
    let i = this.#buckets.length;
    while (i > 0 && this.#buckets[i - 1]!.fireAt > fireAt) i--;
    if (this.#buckets[i - 1]?.fireAt === fireAt) return this.#buckets[i - 1]!;
    const bucket: Bucket = { fireAt, since: now, lists: [], waiters: [], names: 0 };
    this.#buckets.splice(i, 0, bucket);
    return bucket;
  }

  #arm(): void {
    if (this.#firing || this.#abandoned || this.#timer) return;
    const next = this.#buckets[0];
    if (!next) return;
    this.#timer = setTimeout(() => this.#fireDue(), Math.max(0, next.fireAt - this.#now()));
  }

  #fireDue(): void {
    this.#timer = undefined;
    const now = this.#now();
    const due: Bucket[] = [];
    while (this.#buckets[0] && this.#buckets[0].fireAt <= now) due.push(this.#buckets.shift()!);
    if (due.length === 0) return this.#arm();
    const byMapping = new Map<string, string[]>();
    let count = 0;
    this.#firingSince = Math.min(...due.map((b) => b.since));
    for (const b of due) {
      for (const list of b.lists) {
        for (const g of list) {
          let names = byMapping.get(g.mapping);
          if (!names) byMapping.set(g.mapping, (names = []));
          for (const n of g.names) names.push(n);
        }
      }
      count += b.names;
    }
    const groups: NameGroup[] = [];
    for (const [mapping, names] of byMapping) groups.push({ mapping, names });
    this.#firing = this.opts
      .unlink(groups)
      .then(
        () => {
          if (this.#abandoned) return;
          this.#pending -= count;
          for (const b of due) for (const w of b.waiters) w();
        },
        (err: unknown) => this.opts.onError(err),
      )
      .finally(() => {
        this.#firing = undefined;
        this.#firingSince = undefined;
        if (this.#buckets.length > 0) this.#arm();
        else this.#notifyIdle();
      });
  }

  #notifyIdle(): void {
    if (this.#buckets.length > 0 || this.#firing) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
