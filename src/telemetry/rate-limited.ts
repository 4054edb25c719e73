import type { Logger } from 'pino';

/**
 * Logs a warning at most once per interval for each distinct key, reporting how many
 * occurrences were folded in since the last line.
 */
export class RateLimitedWarn {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const t = this.now();
    const entry = this.#last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, suppressed: entry?.suppressed ?? 0 }, message);
    this.#last.set(key, { at: t, suppressed: 0 });
  }
}
