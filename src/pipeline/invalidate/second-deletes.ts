import type { NameGroup } from '../map/batch-plan.js';
import { SecondDeleteScheduler } from './second-delete.js';

export type SecondPassKind = 'key' | 'tag';

export interface SecondDeletesOptions {
  /** The worker's delay; mappings may have their own. */
  readonly defaultDelayMs: number;
  /** Runs one due second pass of `kind`, its names grouped by mapping; resolves once Redis acknowledged (retrying inside). */
  readonly unlink: (kind: SecondPassKind, groups: NameGroup[]) => Promise<void>;
  /** A second pass that failed for good (fatal error, shutdown). */
  readonly onError: (err: unknown) => void;
  readonly now?: () => number;
}

/** One second-delete scheduler per distinct delay (the worker's and the mappings' own) and kind. */
export class SecondDeletes {
  readonly #schedulers = new Map<string, SecondDeleteScheduler>();

  constructor(private readonly opts: SecondDeletesOptions) {}

  /** Deletes the names again after `delayMs` (undefined = the worker's delay); `done` once acknowledged. */
  schedule(delayMs: number | undefined, kind: SecondPassKind, groups: readonly NameGroup[], done: () => void): void {
    this.#scheduler(delayMs ?? this.opts.defaultDelayMs, kind).schedule(groups, done);
  }

  #scheduler(delayMs: number, kind: SecondPassKind): SecondDeleteScheduler {
    const id = `${delayMs}:${kind}`;
    let s = this.#schedulers.get(id);
    if (!s) {
      s = new SecondDeleteScheduler({
        delayMs,
        unlink: (groups) => this.opts.unlink(kind, groups),
        onError: this.opts.onError,
        ...(this.opts.now ? { now: this.opts.now } : {}),
      });
      this.#schedulers.set(id, s);
    }
    return s;
  }

  /** Names awaiting their second delete, over every scheduler (repeats counted). */
  get pending(): number {
    let n = 0;
    for (const s of this.#schedulers.values()) n += s.pendingKeys;
    return n;
  }

  /** When the oldest pending second delete's first delete was acknowledged (undefined: none pending). */
  oldestPendingSince(): number | undefined {
    let oldest: number | undefined;
    for (const s of this.#schedulers.values()) {
      const t = s.oldestPendingSince();
      if (t !== undefined && (oldest === undefined || t < oldest)) oldest = t;
    }
    return oldest;
  }

  /** Resolves once every scheduled second delete was done (each at its time). */
  async drain(): Promise<void> {
    for (const s of this.#schedulers.values()) await s.drain();
  }

  /** Drops everything pending (its offsets are never committed); returns how many names. */
  abandon(): number {
    let n = 0;
    for (const s of this.#schedulers.values()) n += s.abandon();
    return n;
  }
}
