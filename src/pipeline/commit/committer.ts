import type { Logger } from 'pino';
import type { Stats } from '../../telemetry/stats.js';
import type { Source } from '../source/source.js';
import type { OffsetTracker } from './offset-tracker.js';

/**
 * Commits what the tracker says is safe, at most once per interval, one commit at a time.
 * A failed commit is logged: the offsets stay committable and go with the next one. After close()
 * a failed flush() throws: the final commit's failure is the caller's to report.
 */
export class Committer {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #lastAt = 0;
  #closed = false;

  constructor(
    private readonly source: Source,
    private readonly tracker: OffsetTracker,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly stats: Stats,
  ) {}

  /** Asks for a commit soon (coalesced). */
  kick(): void {
    if (this.#closed || this.#timer) return;
    const wait = Math.max(0, this.#lastAt + this.intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A failure before close() is logged in #commit; one after it is thrown to whoever awaits the
      // final flush() (it waits on this same commit), so here it only needs a handler.
      this.flush().catch((e: unknown) => this.logger.debug({ err: e }, 'a timed offset commit failed after close'));
    }, wait);
  }

  /** Commits now what is committable; waits for a commit already under way first. */
  async flush(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      await this.#running;
      if (!this.#again) return;
    }
    this.#again = false;
    this.#running = this.#commit().finally(() => (this.#running = undefined));
    await this.#running;
  }

  async #commit(): Promise<void> {
    this.#lastAt = Date.now();
    const offsets = this.tracker.committable();
    if (offsets.length === 0) return;
    try {
      await this.source.commit(offsets);
      this.tracker.markCommitted(offsets);
      this.stats.inc('commits');
      this.logger.debug({ offsets }, 'offsets committed');
    } catch (e) {
      // The final commit (after close) is reported to the caller, not swallowed.
      if (this.#closed) throw e;
      this.logger.warn({ err: e, partitions: offsets.length }, 'offset commit failed; will retry');
      setTimeout(() => this.kick(), this.intervalMs).unref();
    }
  }

  /** Stops timers; a final flush() may still be called. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
