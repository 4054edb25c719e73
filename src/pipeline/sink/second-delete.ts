import type { Logger } from 'pino';
import type { Stats } from '../../telemetry/stats.js';

/**
 * The delayed second delete. A reader that fetched a row just before the commit can write the
 * old value back after the first delete; deleting the same keys again after a delay clobbers it.
 *
 * Keys are collected in time buckets. A key scheduled again while its second delete is pending
 * is coalesced: it moves to the later bucket (one delete covers both first deletes), but never
 * further than 2 × delay after it was first scheduled, so a hot key cannot hold back commits.
 * `done` of a schedule() call runs once every one of its keys' second deletes was acknowledged;
 * it never runs for work that was abandoned.
 */
export interface SecondDeleteOptions {
  readonly delayMs: number;
  /** Called with the keys of one due bucket; resolves once Redis acknowledged (retrying inside). */
  readonly unlink: (keys: string[]) => Promise<void>;
  /** A failure of unlink that it could not retry away (fatal error, shutdown). */
  readonly onError: (err: unknown) => void;
  readonly logger: Logger;
  readonly stats: Stats;
  readonly now?: () => number;
}

interface Waiter {
  remaining: number;
  readonly done: () => void;
}

interface Bucket {
  readonly fireAt: number;
  /** Entries that joined this bucket; those that moved on to a later one since are skipped. */
  readonly entries: Entry[];
  /** Entries still due in this bucket. */
  live: number;
  state: 'pending' | 'firing';
}

interface Entry {
  readonly key: string;
  readonly firstAt: number;
  bucket: Bucket;
  /** One waiter (the common case: no allocation) or several. */
  waiters: Waiter | Waiter[];
}

function addWaiter(e: Entry, w: Waiter): void {
  if (Array.isArray(e.waiters)) e.waiters.push(w);
  else e.waiters = [e.waiters, w];
}

function release(w: Waiter): void {
  if (--w.remaining === 0) w.done();
}

export class SecondDeleteScheduler {
  readonly #buckets: Bucket[] = []; // pending, sorted by fireAt
  readonly #latest = new Map<string, Entry>();
  readonly #tickMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #firing: Promise<void> | undefined;
  #abandoned = false;
  #idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: SecondDeleteOptions) {
    this.#tickMs = Math.min(100, Math.max(5, Math.floor(opts.delayMs / 20)));
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.delayMs > 0;
  }

  /** Keys with a second delete still to do. */
  get pendingKeys(): number {
    return this.#latest.size;
  }

  schedule(keys: readonly string[], done: () => void): void {
    if (!this.enabled || keys.length === 0 || this.#abandoned) {
      if (!this.#abandoned) done();
      return;
    }
    const now = this.#now();
    const fireAt = Math.ceil((now + this.opts.delayMs) / this.#tickMs) * this.#tickMs;
    const bucket = this.#bucketAt(fireAt);
    const waiter: Waiter = { remaining: 0, done };
    // Repeated keys are harmless: the waiter is then counted (and released) once per repeat.
    for (const key of keys) {
      const e = this.#latest.get(key);
      waiter.remaining++;
      if (e && e.bucket === bucket) {
        addWaiter(e, waiter); // already due in this bucket
      } else if (e && e.bucket.state === 'pending' && fireAt - e.firstAt <= 2 * this.opts.delayMs) {
        this.#leave(e.bucket);
        e.bucket = bucket;
        bucket.entries.push(e);
        bucket.live++;
        addWaiter(e, waiter);
      } else {
        const fresh: Entry = { key, firstAt: now, bucket, waiters: waiter };
        bucket.entries.push(fresh);
        bucket.live++;
        this.#latest.set(key, fresh);
      }
    }
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
    const dropped = this.#latest.size;
    this.#buckets.length = 0;
    this.#latest.clear();
    this.#notifyIdle();
    return dropped;
  }

  #bucketAt(fireAt: number): Bucket {
    const last = this.#buckets[this.#buckets.length - 1];
    if (last && last.fireAt === fireAt) return last;
    const bucket: Bucket = { fireAt, entries: [], live: 0, state: 'pending' };
    // Buckets are created in time order with one delay; keep sorted should delays ever differ.
    let i = this.#buckets.length;
    while (i > 0 && this.#buckets[i - 1]!.fireAt > fireAt) i--;
    if (this.#buckets[i - 1]?.fireAt === fireAt) return this.#buckets[i - 1]!;
    this.#buckets.splice(i, 0, bucket);
    return bucket;
  }

  /** An entry moved on to a later bucket; a pending bucket left with none is dropped. */
  #leave(bucket: Bucket): void {
    if (--bucket.live === 0) {
      const i = this.#buckets.indexOf(bucket);
      if (i >= 0) this.#buckets.splice(i, 1);
    }
  }

  #arm(): void {
    if (this.#firing || this.#abandoned) return;
    const next = this.#buckets[0];
    if (!next) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fireDue(), Math.max(0, next.fireAt - this.#now()));
  }

  #fireDue(): void {
    this.#timer = undefined;
    const now = this.#now();
    const due: Bucket[] = [];
    while (this.#buckets[0] && this.#buckets[0].fireAt <= now) due.push(this.#buckets.shift()!);
    if (due.length === 0) return this.#arm();
    const entries: Entry[] = [];
    for (const b of due) {
      b.state = 'firing';
      for (const e of b.entries) if (e.bucket === b) entries.push(e);
    }
    this.#firing = this.opts
      .unlink(entries.map((e) => e.key))
      .then(
        () => {
          if (this.#abandoned) return;
          for (const e of entries) {
            if (this.#latest.get(e.key) === e) this.#latest.delete(e.key);
            if (Array.isArray(e.waiters)) for (const w of e.waiters) release(w);
            else release(e.waiters);
          }
        },
        (err: unknown) => this.opts.onError(err),
      )
      .finally(() => {
        this.#firing = undefined;
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
