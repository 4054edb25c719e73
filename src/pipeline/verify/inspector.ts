import type { Logger } from 'pino';
import { readEnvelopeHeader, LEASE_PREFIX } from '../../client/envelope.js';
import { RateLimitedWarn } from '../../telemetry/rate-limited.js';
import type { Stats } from '../../telemetry/stats.js';
import { PendingChecks } from './pending-checks.js';
import { filledBefore, type ChangeVersion } from './row-version.js';

/** One sampled key of one change: checked `afterMs` after the change's last second delete. */
export interface VerifyCandidate {
  readonly mapping: string;
  readonly key: string;
  /** The row version the change wrote (undefined: the mapping has none; presence only). */
  readonly version: ChangeVersion | undefined;
}

/** How a read-back ended. */
export type VerifyOutcome = 'fresh' | 'stale' | 'absent' | 'lease' | 'no_envelope' | 'unknown' | 'error';

/** The Redis side of the inspector: the first bytes of each key, and a delete only if they are unchanged. */
export interface VerifyStore {
  /** `GETRANGE key 0 1023` of each key (null: no such key). */
  readHeads(keys: readonly string[]): Promise<(Buffer | null)[]>;
  /** Deletes `key` only if its first bytes are still `head`; resolves whether it did. */
  deleteIfHead(key: string, head: Buffer): Promise<boolean>;
}

export interface InspectorOptions {
  /** Share of changes whose keys are checked, (0, 1]. */
  readonly sample: number;
  /** How long after the change's last second delete a key is read back, ms. */
  readonly afterMs: number;
  /** Most checks pending at once; more samples are dropped (counted). */
  readonly maxPending: number;
}

const BATCH = 256;

/**
 * The worker's inspector: a sampled read-back of invalidated keys, `afterMs` after their second delete.
 * A key holding a value whose envelope (the cache client's) records a row version older than the change
 * is stale — a write-back the deletes did not catch. It is counted per mapping, logged (rate-limited,
 * with the mapping only: no key, no row data) and deleted, unless it changed since it was read. A value
 * without an envelope is reported as present only (`no_envelope`), never deleted.
 */
export class Inspector {
  readonly #pending: PendingChecks<VerifyCandidate>;
  readonly #warn: RateLimitedWarn;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    readonly opts: InspectorOptions,
    private readonly deps: { readonly store: VerifyStore; readonly stats: Stats; readonly logger: Logger; readonly random?: () => number },
  ) {
    this.#warn = new RateLimitedWarn(deps.logger);
    this.#pending = new PendingChecks({ delayMs: opts.afterMs, capacity: opts.maxPending, batchSize: BATCH, onDue: (items) => this.#check(items) });
  }

  /** Whether this change is one of the sampled ones (one draw per change). */
  sampled(): boolean {
    return (this.deps.random ?? Math.random)() < this.opts.sample;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Queues the sampled keys of a batch whose second passes were all acknowledged. */
  schedule(candidates: readonly VerifyCandidate[]): void {
    let dropped = 0;
    for (const c of candidates) if (!this.#pending.add(c)) dropped++;
    if (dropped > 0) this.deps.stats.inc('verify_dropped', undefined, dropped);
    this.deps.stats.set('verify_pending', this.#pending.size);
  }

  /** Drops what is pending and waits for the checks in flight. */
  async stop(): Promise<void> {
    this.#pending.close();
    await Promise.allSettled([...this.#inFlight]);
  }

  #check(items: VerifyCandidate[]): void {
    const p = this.#run(items).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
    this.deps.stats.set('verify_pending', this.#pending.size);
  }

  async #run(items: VerifyCandidate[]): Promise<void> {
    const { store, stats } = this.deps;
    let heads: (Buffer | null)[];
    try {
      heads = await store.readHeads(items.map((c) => c.key));
    } catch (e) {
      for (const c of items) stats.inc('verify_checks', { mapping: c.mapping, outcome: 'error' });
      this.#warn.warn('read', { err: { message: (e as Error).message } }, 'inspector: reading keys back failed; those checks are skipped');
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const c = items[i]!;
      const outcome = await this.#judge(c, heads[i] ?? null);
      stats.inc('verify_checks', { mapping: c.mapping, outcome });
    }
  }

  async #judge(c: VerifyCandidate, head: Buffer | null): Promise<VerifyOutcome> {
    if (head === null) return 'absent';
    const header = readEnvelopeHeader(head);
    if (!header) return head.subarray(0, LEASE_PREFIX.length).toString('utf8') === LEASE_PREFIX ? 'lease' : 'no_envelope';
    if (c.version === undefined) return 'unknown';
    const stale = filledBefore(header.rowVersion, c.version, header.notFound);
    if (stale === undefined) return 'unknown';
    if (!stale) return 'fresh';
    let deleted = false;
    try {
      deleted = await this.deps.store.deleteIfHead(c.key, head);
    } catch (e) {
      this.#warn.warn(`delete:${c.mapping}`, { mapping: c.mapping, err: { message: (e as Error).message } }, 'inspector: deleting a stale value failed');
    }
    this.#warn.warn(
      `stale:${c.mapping}`,
      { mapping: c.mapping, filledAgoMs: Math.max(0, Date.now() - header.filledAt), afterMs: this.opts.afterMs, deleted },
      'inspector: a stale value survived the second delete (a write-back slower than the delay?)',
    );
    return 'stale';
  }
}
