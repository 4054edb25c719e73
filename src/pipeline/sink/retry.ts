import type { Logger } from 'pino';
import { backoffDelay, sleep, type BackoffOptions } from '../../util/backoff.js';
import { SinkError } from './sink.js';

export class AbortedError extends Error {
  override readonly name = 'AbortedError';
}

export interface RetryOptions {
  readonly backoff: BackoffOptions;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Called before every retry wait (e.g. to heartbeat the consumer group). May throw to give up. */
  readonly onRetry?: (attempt: number, error: SinkError) => Promise<void> | void;
  readonly what: string;
}

/**
 * Runs op until it succeeds. Transient sink errors are retried with capped exponential backoff
 * and jitter; fatal ones are rethrown; an aborted signal ends the loop with AbortedError.
 */
export async function retrySink<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (opts.signal.aborted) throw new AbortedError(`${opts.what}: aborted`);
    try {
      return await op();
    } catch (e) {
      const err = e instanceof SinkError ? e : new SinkError(String(e), false, { cause: e });
      if (err.fatal) throw err;
      const delay = backoffDelay(attempt, opts.backoff);
      if (attempt === 0 || attempt % 10 === 0) {
        opts.logger.warn({ what: opts.what, attempt, retryInMs: delay, err: { message: err.message } }, 'redis call failed; retrying');
      }
      await opts.onRetry?.(attempt, err);
      await sleep(delay, opts.signal);
    }
  }
}
