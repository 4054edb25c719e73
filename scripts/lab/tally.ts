import type { Strategy } from './strategies.js';

/** Most staleness durations kept per strategy (the counts go on past it). */
const MAX_SAMPLES = 500_000;

/** A stale read: the row, the version it returned, when it began. */
export interface StaleRead {
  readonly id: number;
  readonly version: number;
  readonly startedAt: number;
}

/** What the readers and probes of one strategy saw. */
export class Tally {
  reads = 0;
  hits = 0;
  staleReads = 0;
  staleHits = 0;
  /** Loader calls: the database reads this strategy cost. */
  dbReads = 0;
  /** Reads that failed (Redis or Postgres errors): counted, left out of everything else. */
  errors = 0;
  /** Stale reads' staleness, ms (the first MAX_SAMPLES). */
  readonly staleness: number[] = [];
  /** Changes probed 1 s, 5 s and 10 s after their COMMIT, and how many of them the key was still older than. */
  readonly probed = { 1000: 0, 5000: 0, 10000: 0 } as Record<number, number>;
  readonly stillStale = { 1000: 0, 5000: 0, 10000: 0 } as Record<number, number>;
  /** Bar probes (after lag + delay + tick + slack): changes probed, the key still older than the change. */
  barProbed = 0;
  /** …holding a value written before the second delete could run (it should have removed it). */
  barInside = 0;
  /** …holding a value written back after the second delete (out of the delete's reach). */
  barOutside = 0;
  /** Oracle probes just before the inspector's check (inspected strategy only): changes whose key was older. */
  oracleProbed = 0;
  oracleStale = 0;

  /** The stale reads themselves (the first MAX_SAMPLES), classified once every first delete is known. */
  readonly staleRecords: StaleRead[] = [];

  constructor(readonly strategy: Strategy) {}

  read(hit: boolean, stale: boolean, staleForMs: number, what?: StaleRead): void {
    this.reads++;
    if (hit) this.hits++;
    if (!stale) return;
    this.staleReads++;
    if (hit) this.staleHits++;
    if (this.staleness.length < MAX_SAMPLES) this.staleness.push(staleForMs);
    if (what && this.staleRecords.length < MAX_SAMPLES) this.staleRecords.push(what);
  }
}
