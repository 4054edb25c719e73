/**
 * The poison breaker, like Kafka Connect's errors.tolerance. Per partition it remembers the last
 * `window` records (100) and whether each was poison. With a ratio r it trips when more than r ×
 * window of them were poison (default 0.5: more than 50 of the last 100); `none` trips at the first
 * poison record, `all` never. A partition that has seen fewer records than the window counts the
 * missing ones as good, so a single bad record at the start never trips it.
 */
import type { PoisonTolerance } from '../../config/values.js';

export type { PoisonTolerance };

export const BREAKER_WINDOW = 100;

export interface BreakerTrip {
  readonly topic: string;
  readonly partition: number;
  readonly poison: number;
  readonly window: number;
  /** The commonest error code in the window. */
  readonly code: string;
}

interface Window {
  readonly codes: (string | null)[];
  next: number;
  poison: number;
}

export class PoisonBreaker {
  readonly #windows = new Map<string, Window>();

  constructor(private readonly tolerance: PoisonTolerance, private readonly size = BREAKER_WINDOW) {}

  /** Records one record's outcome (its poison code, or null); the trip, if poison now dominates. */
  observe(topic: string, partition: number, code: string | null): BreakerTrip | undefined {
    if (this.tolerance.kind === 'all') return undefined;
    const id = `${topic}\u0000${partition}`;
    let w = this.#windows.get(id);
    if (!w) this.#windows.set(id, (w = { codes: new Array<string | null>(this.size).fill(null), next: 0, poison: 0 }));
    if (w.codes[w.next] !== null) w.poison--;
    w.codes[w.next] = code;
    if (code !== null) w.poison++;
    w.next = (w.next + 1) % this.size;
    const limit = this.tolerance.kind === 'none' ? 0 : this.tolerance.ratio * this.size;
    if (code === null || w.poison <= limit) return undefined;
    return { topic, partition, poison: w.poison, window: this.size, code: commonest(w.codes) };
  }

  /** Forgets a partition's window (its batch was given up and will be read again). */
  forget(topic: string, partition: number): void {
    this.#windows.delete(`${topic}\u0000${partition}`);
  }
}

function commonest(codes: readonly (string | null)[]): string {
  const counts = new Map<string, number>();
  for (const c of codes) if (c !== null) counts.set(c, (counts.get(c) ?? 0) + 1);
  let best = '';
  let n = 0;
  for (const [c, k] of counts) if (k > n) [best, n] = [c, k];
  return best;
}
