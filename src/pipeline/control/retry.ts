import type { Logger } from 'pino';
import { backoffDelay, sleep, type BackoffOptions } from '../../util/backoff.js';

/** The work was given up on purpose (a stop, a rebalance): not a failure, nothing was marked done. */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
}

export interface RetryOptions {
  /** What is retried, for logs ("first delete", "dead-letter produce"). */
  readonly what: string;
  /** The log message of a failure that is retried. */
  readonly message: string;
  readonly backoff: BackoffOptions;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Errors retrying cannot fix: rethrown at once. */
  readonly isFatal: (err: unknown) => boolean;
  /** Called before every wait (e.g. to heartbeat the consumer group). May throw to give up. */
  readonly onRetry?: (attempt: number, err: unknown) => Promise<void> | void;
  /** Called at the first failure; the function it returns once the loop ends (success or not). */
  readonly onFailing?: () => () => void;
}

/**
 * Runs op until it succeeds. Failures are retried with capped exponential backoff and jitter;
 * fatal ones are rethrown; an aborted signal ends the loop with AbortedError.
 */
export async function retry<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  let release: (() => void) | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      if (opts.signal.aborted) throw new AbortedError(`${opts.what}: aborted`);
      try {
        return await op();
      } catch (e) {
        if (e instanceof AbortedError || opts.isFatal(e)) throw e;
        release ??= opts.onFailing?.();
        const delay = backoffDelay(attempt, opts.backoff);
        if (attempt === 0 || attempt % 10 === 0) {
          opts.logger.warn({ what: opts.what, attempt, retryInMs: delay, err: e }, opts.message);
        }
        await opts.onRetry?.(attempt, e);
        await sleep(delay, opts.signal);
      }
    }
  } finally {
    release?.();
  }
}
