/** The consumer settings every client of the bake-off gets: named topics, the worker's timings. */
export interface BenchSourceOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** A new group starts at the earliest offset (else the latest). */
  readonly fromBeginning: boolean;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly maxBytesPerPartition: number;
  readonly maxWaitTimeMs?: number;
}
