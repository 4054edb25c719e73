import type { Logger } from 'pino';
import { collect, type PlanSink, type SkippedTemplate, type TargetKind } from '../mapping/evaluate.js';
import type { Mapping } from '../mapping/model.js';
import type { MappingSet } from '../mapping/mapping-set.js';
import { TemplateRenderError } from '../mapping/template.js';
import { Lifecycle, type WorkerState } from './lifecycle.js';
import { RateLimitedWarn } from '../telemetry/rate-limited.js';
import type { Stats } from '../telemetry/stats.js';
import { backoffDelay, sleep, type BackoffOptions } from '../util/backoff.js';
import { Committer } from './commit/committer.js';
import { OffsetTracker } from './commit/offset-tracker.js';
import { DecodeError, DecoderUnavailableError } from './decode/errors.js';
import type { DeadLetterSink } from './sink/dead-letter.js';
import { AbortedError, retrySink } from './sink/retry.js';
import { SecondDeleteScheduler } from './sink/second-delete.js';
import { SinkError, type InvalidationSink } from './sink/sink.js';
import type { Source, SourceBatch } from './source/source.js';
import { CHANGE_OPS, recordRef, type ChangeOp, type Decoded, type SourceRecord } from '../domain/types.js';

export interface WorkerOptions {
  readonly secondDeleteDelayMs: number;
  readonly commitIntervalMs: number;
  /** Backpressure: a batch waits while more keys than this await their second delete. */
  readonly maxPendingSecondDeletes: number;
  readonly backoff: BackoffOptions;
  /**
   * A poison record: park it in the dead-letter topic and go on, stop before it, or (replays,
   * which re-read records the live worker already dead-lettered) count it and go on.
   */
  readonly onError: 'dlq' | 'fail' | 'skip';
  /** A record value larger than this is poison (`too_large`). */
  readonly maxRecordBytes: number;
}

export interface WorkerDeps {
  readonly source: Source;
  readonly sink: InvalidationSink;
  readonly mappings: MappingSet;
  /** Sync for JSON; a registry-backed decoder (Avro) may return a promise. */
  readonly decode: (record: SourceRecord) => Decoded | Promise<Decoded>;
  readonly logger: Logger;
  readonly stats: Stats;
  /** Required with onError 'dlq'. */
  readonly deadLetter?: DeadLetterSink;
}

/** A record the pipeline cannot handle; the worker stops before it (nothing committed past it). */
export class PoisonRecordError extends Error {
  override readonly name = 'PoisonRecordError';
  constructor(
    readonly record: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>,
    readonly code: string,
    message: string,
  ) {
    super(`${recordRef(record)}: ${code}: ${message}`);
  }
}

export interface WorkerResult {
  readonly state: Extract<WorkerState, 'stopped' | 'failed'>;
  readonly error?: Error;
}

interface Invalidation {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
}

interface SecondPass {
  readonly keys: Set<string>;
  readonly tags: Set<string>;
}

/**
 * What one batch invalidates, de-duplicated: one first pass, a second pass per delay. It is the
 * PlanSink `collect` reports names into, so no per-event plan is built on the hot path.
 */
class BatchWork implements PlanSink {
  readonly #keys = new Set<string>();
  readonly #tags = new Set<string>();
  readonly #versions = new Set<string>();
  /**
   * Second passes of mappings with a delay of their own (`second_delete_delay`). The worker's
   * delay is the common case: while only such mappings fired, its second pass is the first pass
   * (no second Set per batch); from the first other mapping on, it is kept apart.
   */
  readonly #second = new Map<number, SecondPass>();
  #defaultPass: SecondPass | undefined;
  /** Where the names of the mapping being reported go besides the first pass (undefined: nowhere else). */
  #pass: SecondPass | undefined;
  #first: Invalidation | undefined;
  /** Names reported so far (repeats included): tells whether an event named anything. */
  named = 0;

  /** source.ts_ms of the batch's events, for the invalidation-lag histogram. */
  readonly sourceTimes: number[] = [];
  /** Change events by table and op (added to the stats once per batch). */
  readonly events = new Map<string, Record<ChangeOp, number>>();

  countEvent(table: string, op: ChangeOp): void {
    let byOp = this.events.get(table);
    if (!byOp) this.events.set(table, (byOp = { c: 0, u: 0, d: 0, r: 0, t: 0 }));
    byOp[op]++;
  }

  constructor(private readonly onSkip: (s: SkippedTemplate) => void) {}

  notFired(): void {
    this.#pass = undefined;
  }

  fired(m: Mapping): void {
    const delay = m.secondDeleteDelayMs;
    if (delay === undefined) {
      this.#pass = this.#defaultPass;
      return;
    }
    // Names so far came from mappings on the worker's delay only: they are its second pass.
    this.#defaultPass ??= { keys: new Set(this.#keys), tags: new Set(this.#tags) };
    let pass = this.#second.get(delay);
    if (!pass) this.#second.set(delay, (pass = { keys: new Set(), tags: new Set() }));
    this.#pass = pass;
  }

  name(kind: TargetKind, name: string): void {
    this.named++;
    if (kind === 'key') {
      this.#keys.add(name);
      this.#pass?.keys.add(name);
    } else if (kind === 'tag') {
      this.#tags.add(name);
      this.#pass?.tags.add(name);
    } else {
      this.#versions.add(name);
    }
  }

  skip(s: SkippedTemplate): void {
    this.onSkip(s);
  }

  firstPass(): Invalidation {
    this.#first ??= { keys: [...this.#keys], tags: [...this.#tags], versions: [...this.#versions] };
    return this.#first;
  }

  /** The second passes to schedule: per delay (undefined = the worker's), keys and tags (empty ones left out). */
  secondPasses(): { readonly delay: number | undefined; readonly kind: 'key' | 'tag'; readonly names: readonly string[] }[] {
    const out: { delay: number | undefined; kind: 'key' | 'tag'; names: readonly string[] }[] = [];
    const first = this.firstPass();
    const own = this.#defaultPass;
    const keys = own ? [...own.keys] : first.keys;
    const tags = own ? [...own.tags] : first.tags;
    if (keys.length > 0) out.push({ delay: undefined, kind: 'key', names: keys });
    if (tags.length > 0) out.push({ delay: undefined, kind: 'tag', names: tags });
    for (const [delay, pass] of this.#second) {
      if (pass.keys.size > 0) out.push({ delay, kind: 'key', names: [...pass.keys] });
      if (pass.tags.size > 0) out.push({ delay, kind: 'tag', names: [...pass.tags] });
    }
    return out;
  }
}

/** What became of one record in the map step. */
type Mapped = { readonly done: true } | { readonly poison: PoisonRecordError };
const DONE: Mapped = { done: true };

/**
 * The pipeline: source batch → decode → map → first delete (retried until Redis acknowledges)
 * → delayed second delete → the batch's offsets become committable → commit.
 */
export class Worker {
  readonly #lifecycle: Lifecycle;
  readonly #tracker = new OffsetTracker();
  /** One second-delete scheduler per distinct delay (the global one and mappings' overrides) and kind. */
  readonly #schedulers = new Map<string, SecondDeleteScheduler>();
  readonly #committer: Committer;
  readonly #abort = new AbortController();
  readonly #warn: RateLimitedWarn;
  readonly #done: Promise<WorkerResult>;
  #resolveDone!: (r: WorkerResult) => void;
  #inFlight = 0;
  #assigned = false;
  /** Set while a Redis call is being retried (consumption of that partition waits). */
  #redisFailing = 0;
  /** Set while a record's decode waits on an unavailable Schema Registry. */
  #registryFailing = 0;
  /** The record being mapped (for the warning of a template that rendered no name). */
  #current: SourceRecord | undefined;
  #idle: (() => void)[] = [];
  #stopping: Promise<WorkerResult> | undefined;
  #statsTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WorkerOptions, private readonly deps: WorkerDeps) {
    this.#lifecycle = new Lifecycle(deps.logger);
    this.#warn = new RateLimitedWarn(deps.logger);
    this.#committer = new Committer(deps.source, this.#tracker, opts.commitIntervalMs, deps.logger, deps.stats);
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  #scheduler(delayMs: number | undefined, kind: 'key' | 'tag'): SecondDeleteScheduler {
    const delay = delayMs ?? this.opts.secondDeleteDelayMs;
    const id = `${delay}:${kind}`;
    let s = this.#schedulers.get(id);
    if (!s) {
      s = new SecondDeleteScheduler({
        delayMs: delay,
        unlink: async (names) => {
          await this.#invalidate(kind === 'key' ? { keys: names, tags: [], versions: [] } : { keys: [], tags: names, versions: [] }, 'second delete');
        },
        onError: (err) => this.#onSinkFailure(err),
      });
      this.#schedulers.set(id, s);
    }
    return s;
  }

  #pendingSecondDeletes(): number {
    let n = 0;
    for (const s of this.#schedulers.values()) n += s.pendingKeys;
    return n;
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
      await this.#retry(() => this.deps.sink.ping(), 'redis ping');
      if (this.#stopping) return; // stopped while waiting for Redis: never join the group
      await this.deps.source.start((batch) => this.#handleBatch(batch), {
        onAssigned: (assignment) => {
          this.#assigned = true;
          this.#tracker.reset();
          this.deps.stats.resetGauge('consumer_lag'); // partitions that moved away stop reporting
          const partitions = [...assignment.values()].reduce((n, ps) => n + ps.length, 0);
          this.deps.logger.info({ topics: assignment.size, partitions }, 'partitions assigned');
        },
        onCrash: (err) => void this.#fail(err),
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
    this.#lifecycle.to('running');
    this.#statsTimer = setInterval(() => this.deps.logger.info({ stats: this.deps.stats.snapshot() }, 'progress'), 30_000);
    this.#statsTimer.unref();
  }

  /**
   * Drains: stops fetching, lets batches in flight finish, waits for pending second deletes,
   * commits, leaves the group. Past `graceMs`, pending work is abandoned — not committed — and
   * the next owner of those partitions replays it.
   */
  stop(graceMs: number, failure?: Error): Promise<WorkerResult> {
    this.#stopping ??= this.#drain(graceMs, failure);
    return this.#stopping;
  }

  async #drain(graceMs: number, failure?: Error): Promise<WorkerResult> {
    // Still starting (waiting for Redis or the group): nothing was consumed, so nothing to drain.
    if (this.state === 'starting' || this.state === 'initialized') this.#abort.abort();
    if (failure) this.#lifecycle.to('failed', { err: { message: failure.message } });
    else this.#lifecycle.to('draining', { graceMs });
    this.deps.source.pauseAll();
    const graceOver = new AbortController();
    const deadline = sleep(graceMs, graceOver.signal).then(() => 'timeout' as const);
    const drained = (async () => {
      await this.#whenIdle();
      for (const s of this.#schedulers.values()) await s.drain();
      return 'drained' as const;
    })();
    const how = await Promise.race([drained, deadline]);
    graceOver.abort();
    if (how === 'timeout') {
      this.#abort.abort();
      let abandoned = 0;
      for (const s of this.#schedulers.values()) abandoned += s.abandon();
      if (abandoned > 0) this.deps.logger.warn({ keys: abandoned }, 'second deletes abandoned; their offsets stay uncommitted and will be replayed');
    }
    this.#committer.close();
    try {
      await this.#committer.flush();
    } catch (e) {
      this.deps.logger.warn({ err: { message: (e as Error).message } }, 'final commit failed');
    }
    try {
      await this.deps.source.stop();
    } catch (e) {
      this.deps.logger.warn({ err: { message: (e as Error).message } }, 'kafka disconnect failed');
    }
    await this.deps.sink.close();
    await this.deps.deadLetter?.close().catch(() => undefined);
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.deps.logger.info({ stats: this.deps.stats.snapshot() }, 'final stats');
    const result: WorkerResult = failure ? { state: 'failed', error: failure } : { state: 'stopped' };
    if (!failure) this.#lifecycle.to('stopped');
    this.#resolveDone(result);
    return result;
  }

  /** Stops with a failure; `graceMs` 0 abandons work in flight at once (Redis refuses for good). */
  #fail(err: Error, graceMs = 5_000): Promise<WorkerResult> {
    if (graceMs === 0) this.#abort.abort();
    return this.stop(graceMs, err);
  }

  #onSinkFailure(err: unknown): void {
    if (err instanceof AbortedError) return;
    const fatal = err instanceof SinkError && err.fatal;
    void this.#fail(err instanceof Error ? err : new Error(String(err)), fatal ? 0 : 5_000);
  }

  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** One pass over Redis — keys, tags, versions — retried until acknowledged. */
  async #invalidate(work: Invalidation, what: string, batch?: SourceBatch): Promise<void> {
    const { sink, stats } = this.deps;
    const pass = batch ? 'first' : 'second';
    const timed = async <T>(op: string, call: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const result = await this.#retry(call, what, batch);
      stats.observe('redis_seconds', (performance.now() - t0) / 1000, { op });
      return result;
    };
    if (work.keys.length > 0) {
      await timed('unlink', () => sink.unlink(work.keys));
      stats.inc('invalidated', { kind: 'key', pass }, work.keys.length);
    }
    if (work.tags.length > 0) {
      const members = await timed('purge_tags', () => sink.purgeTags(work.tags));
      stats.inc('invalidated', { kind: 'tag', pass }, work.tags.length);
      stats.inc('tag_members_deleted', undefined, members);
    }
    if (work.versions.length > 0) {
      await timed('incr', () => sink.bumpVersions(work.versions));
      stats.inc('invalidated', { kind: 'version', pass }, work.versions.length);
    }
  }

  /** For /readyz: running, in the group, Redis answering (and the Schema Registry, when one is used). */
  health(): { ready: boolean; state: WorkerState; groupJoined: boolean; redisOk: boolean; registryOk: boolean; pendingSecondDeletes: number } {
    const redisOk = this.#redisFailing === 0;
    const registryOk = this.#registryFailing === 0;
    return {
      ready: this.state === 'running' && this.#assigned && redisOk && registryOk,
      state: this.state,
      groupJoined: this.#assigned,
      redisOk,
      registryOk,
      pendingSecondDeletes: this.#pendingSecondDeletes(),
    };
  }

  #setPaused(): void {
    this.deps.stats.set('paused', this.#redisFailing + this.#registryFailing > 0 ? 1 : 0);
  }

  async #retry<T>(op: () => Promise<T>, what: string, batch?: SourceBatch): Promise<T> {
    let failing = false;
    try {
      return await this.#retryLoop(op, what, batch, () => {
        if (!failing) this.#redisFailing++;
        failing = true;
        this.#setPaused();
      });
    } finally {
      if (failing) {
        this.#redisFailing--;
        this.#setPaused();
      }
    }
  }

  async #retryLoop<T>(op: () => Promise<T>, what: string, batch: SourceBatch | undefined, onFailure: () => void): Promise<T> {
    return retrySink(op, {
      backoff: this.opts.backoff,
      signal: this.#abort.signal,
      logger: this.deps.logger,
      what,
      onRetry: async () => {
        onFailure();
        this.deps.stats.inc('redis_retries');
        if (batch) {
          if (!batch.isActive()) throw new AbortedError('batch no longer active (rebalance or stop)');
          await batch.heartbeat();
        }
      },
    });
  }

  /** A record value over the size limit is poison before it is even parsed. */
  #tooLarge(record: SourceRecord): Mapped | undefined {
    if (!record.value || record.value.length <= this.opts.maxRecordBytes) return undefined;
    return { poison: new PoisonRecordError(record, 'too_large', `value of ${record.value.length} bytes exceeds the ${this.opts.maxRecordBytes}-byte limit`) };
  }

  /** Decode → map for one record; awaits only when the decoder is asynchronous (registry lookups). */
  async #mapAsync(record: SourceRecord, work: BatchWork, batch: SourceBatch, pending: Promise<Decoded>): Promise<Mapped> {
    try {
      return this.#map(record, await this.#decodeWaiting(record, pending, batch), work);
    } catch (e) {
      if (e instanceof DecodeError) return { poison: new PoisonRecordError(record, e.code, e.message) };
      throw e;
    }
  }

  /**
   * Awaits a decode, waiting out a decoder outage (the Schema Registry down, slow or answering 5xx):
   * not poison. Retried with the backoff while the batch stays ours (heartbeats go on); meanwhile
   * the worker is paused and not ready, as in a Redis outage, and nothing is committed past the record.
   */
  async #decodeWaiting(record: SourceRecord, first: Promise<Decoded>, batch: SourceBatch): Promise<Decoded> {
    const { logger, stats } = this.deps;
    let pending = first;
    let failing = false;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await pending;
        } catch (e) {
          if (!(e instanceof DecoderUnavailableError)) throw e;
          if (!failing) {
            failing = true;
            this.#registryFailing++;
            this.#setPaused();
          }
          stats.inc('registry_retries');
          const delay = backoffDelay(attempt, this.opts.backoff);
          if (attempt % 10 === 0) logger.warn({ at: recordRef(record), attempt, retryInMs: delay, err: { message: e.message } }, 'decoder unavailable (schema registry); retrying');
          if (this.#abort.signal.aborted || !batch.isActive()) throw new AbortedError('batch no longer active (rebalance or stop)');
          await batch.heartbeat();
          await sleep(delay, this.#abort.signal);
          if (this.#abort.signal.aborted) throw new AbortedError('decode retry: aborted');
          pending = Promise.resolve().then(() => this.deps.decode(record));
        }
      }
    } finally {
      if (failing) {
        this.#registryFailing--;
        this.#setPaused();
        logger.info({ at: recordRef(record) }, 'decoder available again');
      }
    }
  }

  #mapSync(record: SourceRecord, work: BatchWork, batch: SourceBatch): Mapped | Promise<Mapped> {
    let decoded: Decoded | Promise<Decoded>;
    try {
      decoded = this.deps.decode(record);
    } catch (e) {
      if (e instanceof DecodeError) return { poison: new PoisonRecordError(record, e.code, e.message) };
      throw e;
    }
    if (decoded instanceof Promise) return this.#mapAsync(record, work, batch, decoded);
    return this.#map(record, decoded, work);
  }

  /** Maps one decoded record into the batch's work. */
  #map(record: SourceRecord, decoded: Decoded, work: BatchWork): Mapped {
    const { stats, logger } = this.deps;
    if (decoded.kind === 'skip') {
      stats.inc('skipped_records', { reason: decoded.reason });
      return DONE;
    }
    const event = decoded.event;
    const namedBefore = work.named;
    this.#current = record;
    let matched: number;
    try {
      matched = collect(event, this.deps.mappings, work);
    } catch (e) {
      if (e instanceof TemplateRenderError) return { poison: new PoisonRecordError(record, 'template_render', e.message) };
      throw e;
    }
    work.countEvent(event.table, event.op);
    if (matched === 0) {
      stats.inc('unmapped_events', { table: event.table });
      logger.debug({ table: event.table, at: recordRef(record) }, 'no mapping for table; skipped');
    }
    if (event.sourceTsMs !== undefined && work.named > namedBefore) work.sourceTimes.push(event.sourceTsMs);
    return DONE;
  }

  #templateSkipped(s: SkippedTemplate): void {
    this.deps.stats.inc('templates_skipped', { mapping: s.mapping, reason: s.reason });
    const at = this.#current ? recordRef(this.#current) : undefined;
    this.#warn.warn(
      `${s.mapping}\u0000${s.template}\u0000${s.reason}`,
      { mapping: s.mapping, template: s.template, image: s.image, reason: s.reason, column: s.column, at },
      'template rendered no key',
    );
  }

  /** Parks a poison record; retried (the partition waits) until the dead-letter topic has it. */
  async #deadLetter(record: SourceRecord, poison: PoisonRecordError, batch: SourceBatch): Promise<void> {
    const dlq = this.deps.deadLetter!;
    await this.#retry(
      async () => {
        try {
          await dlq.send(record, { code: poison.code, message: poison.message });
        } catch (e) {
          throw new SinkError(`dead-letter produce failed: ${(e as Error).message}`, false, { cause: e });
        }
      },
      'dead-letter produce',
      batch,
    );
    this.deps.logger.warn({ at: recordRef(record), code: poison.code, err: { message: poison.message } }, 'poison record dead-lettered');
  }

  async #handleBatch(batch: SourceBatch): Promise<void> {
    if (this.state !== 'running' || this.#abort.signal.aborted) return;
    this.#inFlight++;
    try {
      await this.#processBatch(batch);
    } catch (e) {
      if (e instanceof AbortedError) return; // nothing marked fetched: the records are read again
      if (e instanceof SinkError) {
        void this.#fail(new Error(`redis refused the delete and retrying cannot help: ${e.message}`), 0);
        return;
      }
      throw e; // kafkajs' own errors (rebalance) — it rejoins and refetches from the committed offset
    } finally {
      if (--this.#inFlight === 0) for (const w of this.#idle.splice(0)) w();
    }
  }

  async #processBatch(batch: SourceBatch): Promise<void> {
    const work = new BatchWork((skipped) => this.#templateSkipped(skipped));
    let lastOffset: string | undefined;
    let poison: PoisonRecordError | undefined;
    this.deps.stats.inc('records', undefined, batch.records.length);
    for (const record of batch.records) {
      let mapped = this.#tooLarge(record) ?? this.#mapSync(record, work, batch);
      if (mapped instanceof Promise) mapped = await mapped;
      if ('poison' in mapped) {
        this.deps.stats.inc('poison_records', { code: mapped.poison.code });
        if (this.opts.onError === 'skip') {
          this.deps.logger.warn({ at: recordRef(record), code: mapped.poison.code }, 'poison record skipped');
          lastOffset = record.offset;
          continue;
        }
        if (this.opts.onError === 'fail' || !this.deps.deadLetter) {
          poison = mapped.poison;
          break;
        }
        await this.#deadLetter(record, mapped.poison, batch);
        lastOffset = record.offset;
        continue;
      }
      lastOffset = record.offset;
    }

    for (const [table, byOp] of work.events) {
      for (const op of CHANGE_OPS) if (byOp[op] > 0) this.deps.stats.inc('events', { table, op }, byOp[op]);
    }
    if (lastOffset !== undefined) {
      while (this.#pendingSecondDeletes() > this.opts.maxPendingSecondDeletes && batch.isActive() && !this.#abort.signal.aborted) {
        await sleep(20, this.#abort.signal);
        await batch.heartbeat();
      }
      const first = work.firstPass();
      await this.#invalidate(first, 'first delete', batch);
      const ackedAt = Date.now();
      for (const t of work.sourceTimes) this.deps.stats.observe('invalidation_lag_seconds', Math.max(0, ackedAt - t) / 1000);
      if (batch.highWatermark !== undefined) {
        const lag = Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n);
        this.deps.stats.set('consumer_lag', Math.max(0, lag), { topic: batch.topic, partition: String(batch.partition) });
      }
      this.deps.stats.set('pending_second_deletes', this.#pendingSecondDeletes());
      // The names come from row values: the logger censors keyNames/tagNames/versionNames unless --log-keys.
      this.deps.logger.debug(
        { topic: batch.topic, partition: batch.partition, lastOffset, keys: first.keys.length, tags: first.tags.length, versions: first.versions.length, keyNames: first.keys, tagNames: first.tags, versionNames: first.versions },
        'batch invalidated',
      );
      const active = batch.isActive();
      const unit = active ? this.#tracker.begin(batch.topic, batch.partition, lastOffset) : undefined;
      // The unit completes once every delay group's second pass was acknowledged.
      const groups = work.secondPasses();
      let remaining = groups.length;
      const groupDone = (): void => {
        if (--remaining > 0 || !unit) return;
        unit.complete();
        this.#committer.kick();
      };
      if (remaining === 0) {
        remaining = 1;
        groupDone();
      }
      // When the batch went stale the second pass still runs (race protection); the offsets are replayed.
      for (const g of groups) this.#scheduler(g.delay, g.kind).schedule(g.names, groupDone);
      if (active) batch.markFetched(lastOffset);
    }
    if (poison) {
      this.deps.logger.error({ at: recordRef(poison.record), code: poison.code, err: { message: poison.message } }, 'poison record: stopping before it');
      void this.#fail(poison);
    }
  }
}
