import type { Logger } from 'pino';
import { recordRef, type RecordDecoder } from '../domain/types.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import type { Stats } from '../telemetry/stats.js';
import { sleep, type BackoffOptions } from '../util/backoff.js';
import { Committer } from './commit/committer.js';
import { OffsetTracker } from './commit/offset-tracker.js';
import { Lifecycle, type WorkerState } from './control/lifecycle.js';
import { Readiness, type NotReadyReason } from './control/readiness.js';
import { heartbeatOf, SourceInterrupt } from './control/interrupt.js';
import { OutageLog } from './control/outage.js';
import { AbortedError, retry } from './control/retry.js';
import { PoisonBreaker, type BreakerTrip, type PoisonTolerance } from './poison/breaker.js';
import { Invalidator } from './invalidate/invalidator.js';
import { Inspector, type InspectorOptions, type VerifyStore } from './verify/inspector.js';
import { RecordMapper } from './map/mapper.js';
import { DeadLetterError, type DeadLetterSink } from './poison/dead-letter.js';
import { PoisonRecordError } from './poison/poison.js';
import { PoisonPolicy, type OnError, type Poisoned } from './poison/policy.js';
import { SinkError, type InvalidationSink } from './sink/sink.js';
import type { Source, SourceBatch } from './source/source.js';

export { PoisonRecordError };

export interface WorkerOptions {
  readonly secondDeleteDelayMs: number;
  readonly commitIntervalMs: number;
  /** Backpressure: a batch waits while more keys than this await their second delete. */
  readonly maxPendingSecondDeletes: number;
  readonly backoff: BackoffOptions;
  readonly onError: OnError;
  /** A record value larger than this is poison (`too_large`). */
  readonly maxRecordBytes: number;
  /** The drain's grace after a failure (--shutdown-grace; default 10 s). */
  readonly shutdownGraceMs?: number;
  /** The poison breaker (default: all, never trips). */
  readonly poisonTolerance?: PoisonTolerance;
  /** How often the progress line (stats) is logged; 0 = never. */
  readonly progressIntervalMs?: number;
  /** How often a batch heartbeats its group while it waits on a call (default 1 s; kafkajs sends at most one per heartbeat interval). */
  readonly heartbeatEveryMs?: number;
  /** The inspector (--verify-sample, --verify-after): off when absent or its sample is 0; needs deps.verifyStore. */
  readonly verify?: InspectorOptions;
  /** How often an ongoing Redis outage is logged (default 5 s). */
  readonly outageLogIntervalMs?: number;
}

export interface WorkerDeps {
  readonly source: Source;
  readonly sink: InvalidationSink;
  readonly mappings: MappingSet;
  /** Sync for JSON; a registry-backed decoder (Avro) may return a promise. */
  readonly decode: RecordDecoder;
  readonly logger: Logger;
  readonly stats: Stats;
  /** Required with onError 'dlq'. */
  readonly deadLetter?: DeadLetterSink;
  /** Where the inspector reads keys back (the Redis sink). */
  readonly verifyStore?: VerifyStore;
}

export interface WorkerResult {
  readonly state: Extract<WorkerState, 'stopped' | 'failed'>;
  readonly error?: Error;
}

export interface WorkerHealth {
  readonly ready: boolean;
  readonly state: WorkerState;
  /** Why not ready (empty when ready). */
  readonly notReady: readonly NotReadyReason[];
  readonly pendingSecondDeletes: number;
  /** How long commits have been held back by pending second deletes (the oldest one's age; 0: none). */
  readonly secondDeleteHoldMs: number;
}

/**
 * The pipeline's lifecycle and its batch loop. For each batch: decode → map (RecordMapper) → poison
 * policy → invalidate, first pass then delayed second passes (Invalidator) → the batch's offsets
 * become committable once all passes were acknowledged (OffsetTracker) → commit (Committer).
 */
export class Worker {
  readonly #lifecycle: Lifecycle;
  readonly #readiness: Readiness;
  readonly #tracker = new OffsetTracker();
  readonly #committer: Committer;
  readonly #abort = new AbortController();
  readonly #mapper: RecordMapper;
  readonly #poison: PoisonPolicy;
  readonly #invalidator: Invalidator;
  readonly #breaker: PoisonBreaker;
  readonly #inspector: Inspector | undefined;
  readonly #redisOutage: OutageLog;
  readonly #done: Promise<WorkerResult>;
  #resolveDone!: (r: WorkerResult) => void;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #stopping: Promise<WorkerResult> | undefined;
  /** The first failure reported while already stopping (it makes the result a failure). */
  #drainFailure: Error | undefined;
  #statsTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkerOptions, private readonly deps: WorkerDeps) {
    this.#lifecycle = new Lifecycle(deps.logger);
    this.#readiness = new Readiness((r) => deps.stats.set('paused', r.paused ? 1 : 0));
    this.#readiness.set('starting', true);
    this.#committer = new Committer(deps.source, this.#tracker, opts.commitIntervalMs, deps.logger, deps.stats);
    const signal = this.#abort.signal;
    if (opts.verify && opts.verify.sample > 0) {
      if (!deps.verifyStore) throw new Error('the inspector (verify) needs a verifyStore');
      this.#inspector = new Inspector(opts.verify, { store: deps.verifyStore, stats: deps.stats, logger: deps.logger });
    }
    this.#mapper = new RecordMapper(
      { maxRecordBytes: opts.maxRecordBytes, backoff: opts.backoff },
      { decode: deps.decode, mappings: deps.mappings, logger: deps.logger, stats: deps.stats, readiness: this.#readiness, signal, ...(this.#inspector ? { inspector: this.#inspector } : {}) },
    );
    this.#poison = new PoisonPolicy(opts.onError, {
      logger: deps.logger,
      stats: deps.stats,
      ...(deps.deadLetter ? { deadLetter: deps.deadLetter } : {}),
      retry: (op, batch) => this.#deadLetterRetry(op, batch),
    });
    this.#invalidator = new Invalidator(
      { secondDeleteDelayMs: opts.secondDeleteDelayMs, maxPendingSecondDeletes: opts.maxPendingSecondDeletes },
      {
        sink: deps.sink,
        stats: deps.stats,
        logger: deps.logger,
        retry: (op, what, batch) => this.#redisRetry(op, what, batch),
        onSecondPassError: (err) => this.#onSinkFailure(err),
        signal,
      },
    );
    this.#breaker = new PoisonBreaker(opts.poisonTolerance ?? { kind: 'all' });
    deps.stats.sample('second_delete_hold_seconds', () => this.#invalidator.secondDeleteHoldMs() / 1000);
    this.#redisOutage = new OutageLog(deps.logger, { service: 'redis', intervalMs: opts.outageLogIntervalMs ?? 5_000 });
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get state(): WorkerState {
    return this.#lifecycle.state;
  }

  /** Resolves when the worker has stopped (cleanly or not). */
  get done(): Promise<WorkerResult> {
    return this.#done;
  }

  async start(): Promise<void> {
    this.#lifecycle.to('starting', { tables: this.deps.mappings.tables(), secondDeleteDelayMs: this.opts.secondDeleteDelayMs });
    try {
      // Join the group only once Redis answers: nothing to do with a batch before that.
      await this.#redisRetry(() => this.deps.sink.ping(), 'redis ping');
      if (this.#stopping) return; // stopped while waiting for Redis: never join the group
      // The dead-letter topic must exist (or be created as configured) before anything is read.
      await this.deps.deadLetter?.prepare();
      if (this.#stopping) return;
      this.#readiness.set('consumer', true);
      await this.deps.source.start((batch) => this.#handleBatch(batch), {
        onAssigned: (assignment) => {
          this.#readiness.set('consumer', false);
          this.#tracker.reset();
          this.deps.stats.resetGauge('consumer_lag'); // partitions that moved away stop reporting
          const partitions = [...assignment.values()].reduce((n, ps) => n + ps.length, 0);
          this.deps.logger.info({ topics: assignment.size, partitions }, 'partitions assigned');
        },
        onCrash: (err) => void this.#fail(err),
        onRejoining: (why) => {
          if (!this.#readiness.has('consumer')) this.deps.logger.info({ why }, 'consumer rejoining its group: not ready until partitions are assigned');
          this.#readiness.set('consumer', true);
        },
      });
    } catch (e) {
      if (this.#stopping && e instanceof AbortedError) return; // a stop during start-up is not a failure
      await this.#fail(e as Error);
      throw e;
    }
    if (this.#stopping) {
      // Stopped while joining: the drain may have run before the consumer existed.
      await this.deps.source.stop().catch(() => undefined);
      return;
    }
    this.#readiness.set('starting', false);
    this.#lifecycle.to('running');
    const every = this.opts.progressIntervalMs ?? 30_000;
    if (every > 0) {
      this.#statsTimer = setInterval(() => this.deps.logger.info({ stats: this.deps.stats.snapshot() }, 'progress'), every);
      this.#statsTimer.unref();
    }
  }

  /**
   * Drains: stops fetching, lets batches in flight finish, waits for pending second deletes,
   * commits, leaves the group. Past `graceMs`, pending work is abandoned — not committed — and
   * the next owner of those partitions replays it.
   */
  stop(graceMs: number, failure?: Error): Promise<WorkerResult> {
    if (this.#stopping && failure && !this.#drainFailure) {
      this.#drainFailure = failure;
      this.deps.logger.error({ err: failure }, 'failure while draining: the worker will exit with a failure');
    }
    this.#stopping ??= this.#drain(graceMs, failure);
    return this.#stopping;
  }

  async #drain(graceMs: number, failure?: Error): Promise<WorkerResult> {
    // Still starting (waiting for Redis or the group): nothing was consumed, so nothing to drain.
    if (this.state === 'starting' || this.state === 'initialized') this.#abort.abort();
    this.#readiness.set('stopping', true);
    if (failure) this.#lifecycle.to('failed', { err: failure });
    else this.#lifecycle.to('draining', { graceMs });
    this.deps.source.pauseAll();
    const graceOver = new AbortController();
    const deadline = sleep(graceMs, graceOver.signal).then(() => 'timeout' as const);
    const drained = (async () => {
      await this.#whenIdle();
      await this.#invalidator.drain();
      return 'drained' as const;
    })();
    const how = await Promise.race([drained, deadline]);
    graceOver.abort();
    if (how === 'timeout') {
      this.#abort.abort();
      const abandoned = this.#invalidator.abandon();
      if (abandoned > 0) this.deps.logger.warn({ keys: abandoned }, 'second deletes abandoned; their offsets stay uncommitted and will be replayed');
    }
    await this.#inspector?.stop(); // pending checks are advisory: dropped, never waited for
    this.#committer.close();
    try {
      await this.#committer.flush();
    } catch (e) {
      this.deps.logger.error({ err: e }, 'final commit failed: those offsets stay uncommitted and will be replayed');
      this.#drainFailure ??= new Error(`final commit failed: ${(e as Error).message}`, { cause: e });
    }
    try {
      await this.deps.source.stop();
    } catch (e) {
      this.deps.logger.warn({ err: e }, 'kafka disconnect failed');
    }
    await this.deps.sink.close();
    await this.deps.deadLetter?.close().catch(() => undefined);
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.deps.logger.info({ stats: this.deps.stats.snapshot() }, 'final stats');
    const error = failure ?? this.#drainFailure;
    const result: WorkerResult = error ? { state: 'failed', error } : { state: 'stopped' };
    if (error) this.#lifecycle.to('failed', { err: error });
    else this.#lifecycle.to('stopped');
    this.#resolveDone(result);
    return result;
  }

  /** Stops with a failure; `graceMs` 0 abandons work in flight at once (Redis refuses for good). */
  #fail(err: Error, graceMs = this.opts.shutdownGraceMs ?? 10_000): Promise<WorkerResult> {
    if (graceMs === 0) this.#abort.abort();
    return this.stop(graceMs, err);
  }

  #onSinkFailure(err: unknown): void {
    if (err instanceof AbortedError) return;
    const fatal = err instanceof SinkError && err.fatal;
    const error = err instanceof Error ? err : new Error(String(err));
    if (fatal) void this.#fail(error, 0);
    else void this.#fail(error);
  }

  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** For /readyz: ready when running, in the group, and nothing waits on Redis, the registry or the dead-letter topic. */
  health(): WorkerHealth {
    const notReady = this.#readiness.reasons;
    return {
      ready: this.state === 'running' && notReady.length === 0,
      state: this.state,
      notReady,
      pendingSecondDeletes: this.#invalidator.pendingSecondDeletes,
      secondDeleteHoldMs: this.#invalidator.secondDeleteHoldMs(),
    };
  }

  /** Heartbeats the batch's group membership; an error (a rebalance) goes back to the source unchanged. */
  #heartbeat(batch: SourceBatch): Promise<void> {
    return heartbeatOf(() => batch.heartbeat());
  }

  /**
   * A dead-letter produce, retried until the topic has it: reported as dead-letter trouble (its own
   * log line, `dead_letter_retries`, readiness reason `dead-letter`), never as Redis. The batch
   * heartbeats while a produce is under way and between attempts; a fatal failure (authorization,
   * too large, no topic) is rethrown at once.
   */
  #deadLetterRetry(op: () => Promise<void>, batch: SourceBatch): Promise<void> {
    return retry(() => this.#whileHeartbeating(op, batch), {
      what: 'dead-letter produce',
      message: 'dead-letter produce failed; retrying (the partition waits; nothing past the poison record is committed)',
      backoff: this.opts.backoff,
      signal: this.#abort.signal,
      logger: this.deps.logger,
      isFatal: (e) => e instanceof DeadLetterError && e.fatal,
      onFailing: () => this.#readiness.hold('dead-letter'),
      onRetry: async () => {
        this.deps.stats.inc('dead_letter_retries');
        if (!batch.isActive()) throw new AbortedError('batch no longer active (rebalance or stop)');
        await this.#heartbeat(batch);
      },
    });
  }

  /** Runs op while heartbeating the batch's group; a heartbeat that reports a rebalance interrupts the batch once op is done. */
  async #whileHeartbeating(op: () => Promise<void>, batch: SourceBatch): Promise<void> {
    let interrupted: unknown;
    const timer = setInterval(() => {
      batch.heartbeat().catch((e: unknown) => (interrupted ??= e));
    }, this.opts.heartbeatEveryMs ?? 1_000);
    try {
      await op();
    } finally {
      clearInterval(timer);
    }
    if (interrupted !== undefined) throw new SourceInterrupt(interrupted);
  }

  /** A Redis call, retried until it succeeds; the batch waits and heartbeats meanwhile. */
  #redisRetry<T>(op: () => Promise<T>, what: string, batch?: SourceBatch): Promise<T> {
    return retry(op, {
      what,
      message: 'redis call failed; retrying',
      backoff: this.opts.backoff,
      signal: this.#abort.signal,
      logger: this.deps.logger,
      isFatal: (e) => e instanceof SinkError && e.fatal,
      onFailing: () => {
        const ready = this.#readiness.hold('redis');
        const waiting = this.#redisOutage.begin({ what, ...(batch ? { partition: `${batch.topic}/${batch.partition}` } : {}) });
        return () => {
          ready();
          waiting();
        };
      },
      onRetry: async (_attempt, err) => {
        this.#redisOutage.failed(err);
        this.deps.stats.inc('redis_retries');
        if (batch) {
          if (!batch.isActive()) throw new AbortedError('batch no longer active (rebalance or stop)');
          await this.#heartbeat(batch);
        }
      },
    });
  }

  async #handleBatch(batch: SourceBatch): Promise<void> {
    if (this.state !== 'running' || this.#abort.signal.aborted) return;
    this.#inFlight++;
    try {
      await this.#processBatch(batch);
    } catch (e) {
      if (e instanceof AbortedError) return; // nothing marked fetched: the records are read again
      if (e instanceof SourceInterrupt) throw e.original; // kafkajs' own errors (rebalance): it rejoins and refetches
      if (e instanceof DeadLetterError) {
        void this.#fail(new Error(`${e.message}; stopping before the poison record (nothing past it committed)`, { cause: e }), 0);
        return;
      }
      if (e instanceof SinkError) {
        void this.#fail(new Error(`redis refused the delete and retrying cannot help: ${e.message}`, { cause: e }), 0);
        return;
      }
      throw e;
    } finally {
      if (--this.#inFlight === 0) for (const w of this.#idle.splice(0)) w();
    }
  }

  async #processBatch(batch: SourceBatch): Promise<void> {
    const { stats, logger } = this.deps;
    const plan = this.#mapper.newPlan();
    let lastOffset: string | undefined;
    stats.inc('records', undefined, batch.records.length);
    // Decode and map the whole batch first: the breaker judges it before anything of it is
    // dead-lettered, invalidated or committed.
    const poisoned: Poisoned[] = [];
    let trip: BreakerTrip | undefined;
    for (const record of batch.records) {
      let mapped = this.#mapper.map(record, plan, batch);
      if (mapped instanceof Promise) mapped = await mapped;
      const poison = 'poison' in mapped ? mapped.poison : undefined;
      if (poison) poisoned.push({ record, poison });
      trip ??= this.#breaker.observe(batch.topic, batch.partition, poison?.code ?? null);
    }
    if (trip && this.opts.onError !== 'fail') {
      this.#breaker.forget(batch.topic, batch.partition);
      const err = new Error(
        `poison breaker: ${trip.poison} of the last ${trip.window} records of ${trip.topic}/${trip.partition} were poison, most often ${trip.code}; ` +
          `stopping before ${recordRef(batch.records[0]!)} (nothing of this batch dead-lettered or committed). Fix the input (a converter misconfiguration?) or see --poison-tolerance`,
      );
      logger.error({ topic: trip.topic, partition: trip.partition, poison: trip.poison, window: trip.window, code: trip.code }, 'poison breaker tripped');
      void this.#fail(err);
      return;
    }
    // Every poison record of the batch at once: one dead-letter produce, or the record to stop before.
    const stopAt = (await this.#poison.handle(poisoned, batch))?.poison;
    for (const record of batch.records) {
      if (stopAt && record.offset === stopAt.record.offset) break;
      lastOffset = record.offset;
    }
    plan.reportEvents(stats);

    if (lastOffset !== undefined) {
      await this.#invalidator.backpressure(batch, () => this.#heartbeat(batch));
      const first = await this.#invalidator.firstPass(plan, batch);
      const ackedAt = Date.now();
      for (const t of plan.sourceTimes) stats.observe('invalidation_lag_seconds', Math.max(0, ackedAt - t) / 1000);
      if (batch.highWatermark !== undefined) {
        const lag = Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n);
        stats.set('consumer_lag', Math.max(0, lag), { topic: batch.topic, partition: String(batch.partition) });
      }
      stats.set('pending_second_deletes', this.#invalidator.pendingSecondDeletes);
      // The names come from row values: the logger censors keyNames/tagNames/versionNames unless --log-keys.
      logger.debug(
        { topic: batch.topic, partition: batch.partition, lastOffset, keys: first.keys.length, tags: first.tags.length, versions: first.versions.length, keyNames: first.keys, tagNames: first.tags, versionNames: first.versions },
        'batch invalidated',
      );
      const active = batch.isActive();
      // Every record handled: commit past the batch's trailing control records too (a transaction's marker).
      const done = !stopAt && lastOffset === batch.records[batch.records.length - 1]?.offset && batch.endOffset !== undefined ? batch.endOffset : lastOffset;
      const unit = active ? this.#tracker.begin(batch.topic, batch.partition, done) : undefined;
      // When the batch went stale the second pass still runs (race protection); the offsets are replayed.
      this.#invalidator.scheduleSecondPasses(plan, () => {
        if (plan.verify.length > 0) this.#inspector?.schedule(plan.verify);
        if (!unit) return;
        unit.complete();
        this.#committer.kick();
      });
      if (active) batch.markFetched(lastOffset);
    }
    if (stopAt) {
      logger.error({ at: recordRef(stopAt.record), code: stopAt.code, err: stopAt }, 'poison record: stopping before it');
      void this.#fail(stopAt);
    }
  }
}
