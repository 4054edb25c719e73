import type { Logger } from 'pino';

/** One call held up by an outage: what it is and, when it belongs to a batch, whose. */
export interface Waiter {
  /** "first delete", "second delete", "redis ping", … */
  readonly what: string;
  /** `topic/partition` of the batch it holds back, if any. */
  readonly partition?: string;
}

export interface OutageLogOptions {
  /** What is out, for messages ("redis"). */
  readonly service: string;
  /** How often an ongoing outage is logged (one line for all the calls waiting). */
  readonly intervalMs: number;
  readonly now?: () => number;
}

interface Held extends Waiter {
  readonly since: number;
}

/** At most this many waiting calls are listed per line (the count says how many there are). */
const LISTED = 10;

/**
 * Says, while a service is unreachable, for how long and what waits on it. The retry loops log their
 * first failure; after that this logs one line per interval (warn) for the whole outage — however
 * many calls wait — with the outage's age, the calls waiting (what, which partition, for how long),
 * the retries since the last line and the last error; and one line (info) when the last call got
 * through. Rate-limited by construction: one timer, one line per interval.
 */
export class OutageLog {
  readonly #held = new Map<symbol, Held>();
  readonly #now: () => number;
  #since: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retries = 0;
  #lastError: { type: string; message: string } | undefined;

  constructor(private readonly logger: Logger, private readonly opts: OutageLogOptions) {
    this.#now = opts.now ?? Date.now;
  }

  /** A call started failing; the returned function ends its wait (more calls are no-ops). */
  begin(waiter: Waiter): () => void {
    const token = Symbol(waiter.what);
    const now = this.#now();
    this.#held.set(token, { ...waiter, since: now });
    if (this.#since === undefined) {
      this.#since = now;
      this.#timer = setInterval(() => this.#report(), this.opts.intervalMs);
      this.#timer.unref();
    }
    return () => {
      if (!this.#held.delete(token) || this.#held.size > 0) return;
      const downForMs = this.#now() - this.#since!;
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#since = undefined;
      this.#retries = 0;
      this.#lastError = undefined;
      this.logger.info({ service: this.opts.service, downForMs }, `${this.opts.service} available again`);
    };
  }

  /** A retry of a waiting call failed again with `err`. */
  failed(err: unknown): void {
    this.#retries++;
    if (err instanceof Error) this.#lastError = { type: err.constructor.name, message: err.message };
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error: String() is what can be said of it
    else if (err !== undefined) this.#lastError = { type: typeof err, message: String(err) };
  }

  /** How long the current outage has lasted (0 when there is none). */
  get downForMs(): number {
    return this.#since === undefined ? 0 : this.#now() - this.#since;
  }

  #report(): void {
    if (this.#since === undefined || this.#held.size === 0) return;
    const now = this.#now();
    const downForMs = now - this.#since;
    const calls = [...this.#held.values()]
      .sort((a, b) => a.since - b.since)
      .slice(0, LISTED)
      .map((h) => ({ what: h.what, ...(h.partition ? { partition: h.partition } : {}), waitingMs: now - h.since }));
    this.logger.warn(
      { service: this.opts.service, downForMs, waiting: this.#held.size, calls, retries: this.#retries, ...(this.#lastError ? { lastError: this.#lastError } : {}) },
      `${this.opts.service} unavailable for ${Math.round(downForMs / 1000)} s: ${this.#held.size} call(s) waiting, nothing past them is committed`,
    );
    this.#retries = 0;
  }
}
