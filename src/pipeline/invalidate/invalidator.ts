import type { Logger } from 'pino';
import type { Stats } from '../../telemetry/stats.js';
import { sleep } from '../../util/backoff.js';
import type { Invalidation, BatchPlan, NameGroup } from '../map/batch-plan.js';
import type { SourceBatch } from '../source/source.js';
import type { InvalidationSink } from '../sink/sink.js';
import { SecondDeletes } from './second-deletes.js';

/** Runs one Redis call until acknowledged (the worker's retry: backoff, heartbeats, readiness). */
export type RedisRetry = <T>(op: () => Promise<T>, what: string, batch?: SourceBatch) => Promise<T>;

export interface InvalidatorOptions {
  readonly secondDeleteDelayMs: number;
  /** Backpressure: a batch waits while more names than this await their second delete. */
  readonly maxPendingSecondDeletes: number;
  /** How often a batch held back by the bound checks again (and heartbeats). */
  readonly backpressurePollMs?: number;
}

export interface InvalidatorDeps {
  readonly sink: InvalidationSink;
  readonly stats: Stats;
  readonly logger: Logger;
  readonly retry: RedisRetry;
  /** A second pass that failed for good. */
  readonly onSecondPassError: (err: unknown) => void;
  readonly signal: AbortSignal;
}

/**
 * The invalidate stage: a batch's first pass (keys, tags, versions; retried until Redis
 * acknowledged), then its second passes, one per delay, scheduled with the second-delete
 * schedulers. `done` of a batch runs once every one of its second passes was acknowledged.
 */
export class Invalidator {
  readonly #secondDeletes: SecondDeletes;

  constructor(private readonly opts: InvalidatorOptions, private readonly deps: InvalidatorDeps) {
    this.#secondDeletes = new SecondDeletes({
      defaultDelayMs: opts.secondDeleteDelayMs,
      unlink: async (kind, groups) => {
        await this.#pass(kind === 'key' ? { keyGroups: groups, tagGroups: [], versions: [] } : { keyGroups: [], tagGroups: groups, versions: [] }, 'second delete');
      },
      onError: deps.onSecondPassError,
    });
  }

  get pendingSecondDeletes(): number {
    return this.#secondDeletes.pending;
  }

  /** How long commits have been held back by pending second deletes: the oldest one's age (0: none pending). */
  secondDeleteHoldMs(now = Date.now()): number {
    const since = this.#secondDeletes.oldestPendingSince();
    return since === undefined ? 0 : Math.max(0, now - since);
  }

  /** Waits while too many names await their second delete (heartbeating), unless the batch went stale. */
  async backpressure(batch: SourceBatch, heartbeat: () => Promise<void>): Promise<void> {
    const poll = this.opts.backpressurePollMs ?? 20;
    while (this.#secondDeletes.pending > this.opts.maxPendingSecondDeletes && batch.isActive() && !this.deps.signal.aborted) {
      await sleep(poll, this.deps.signal);
      await heartbeat();
    }
  }

  /** The batch's first pass, retried until acknowledged. */
  async firstPass(plan: BatchPlan, batch: SourceBatch): Promise<Invalidation> {
    const first = plan.firstPass();
    await this.#pass(first, 'first delete', batch);
    return first;
  }

  /** Schedules the plan's second passes; `done` once all were acknowledged (at once when there are none). */
  scheduleSecondPasses(plan: BatchPlan, done: () => void): void {
    const groups = plan.secondPasses();
    let remaining = groups.length;
    if (remaining === 0) return done();
    const groupDone = (): void => {
      if (--remaining === 0) done();
    };
    for (const g of groups) this.#secondDeletes.schedule(g.delay, g.kind, g.groups, groupDone);
  }

  /** Resolves when every scheduled second delete was done. */
  drain(): Promise<void> {
    return this.#secondDeletes.drain();
  }

  /** Drops pending second deletes; their batches never complete (and are never committed). */
  abandon(): number {
    return this.#secondDeletes.abandon();
  }

  /**
   * One pass over Redis — keys, tags, versions — each call retried until acknowledged. UNLINK's reply
   * (and a purge's member count) says what was there: counted per mapping as the first pass's hits or
   * the second pass's removals (values written back or refilled within the delay).
   */
  async #pass(work: PassWork, what: string, batch?: SourceBatch): Promise<void> {
    const { sink, stats } = this.deps;
    const pass = batch ? 'first' : 'second';
    const found = batch ? 'first_pass_hits' : 'second_pass_removals';
    const timed = async <T>(op: string, call: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const result = await this.deps.retry(call, what, batch);
      stats.observe('redis_seconds', (performance.now() - t0) / 1000, { op });
      return result;
    };
    if (work.keyGroups.length > 0) {
      const groups = work.keyGroups;
      const removed = await timed('unlink', () => (sink.unlinkEach ? sink.unlinkEach(groups.map((g) => g.names)) : Promise.all(groups.map((g) => sink.unlink(g.names)))));
      let keys = 0;
      for (let i = 0; i < groups.length; i++) {
        keys += groups[i]!.names.length;
        stats.inc(found, { mapping: groups[i]!.mapping, kind: 'key' }, removed[i] ?? 0);
      }
      stats.inc('invalidated', { kind: 'key', pass }, keys);
    }
    if (work.tagGroups.length > 0) {
      let tags = 0;
      let members = 0;
      for (const g of work.tagGroups) {
        const m = await timed('purge_tags', () => sink.purgeTags(g.names));
        stats.inc(found, { mapping: g.mapping, kind: 'tag_member' }, m);
        tags += g.names.length;
        members += m;
      }
      stats.inc('invalidated', { kind: 'tag', pass }, tags);
      stats.inc('tag_members_deleted', undefined, members);
    }
    if (work.versions.length > 0) {
      await timed('incr', () => sink.bumpVersions(work.versions));
      stats.inc('invalidated', { kind: 'version', pass }, work.versions.length);
    }
  }
}

/** What one pass sends: keys and tags by mapping, version counters. */
type PassWork = Pick<Invalidation, 'keyGroups' | 'tagGroups' | 'versions'> & { readonly keyGroups: readonly NameGroup[] };
