import type { Logger } from 'pino';
import { recordRef, type ChangeEvent, type Decoded, type RecordDecoder, type SourceRecord } from '../../domain/types.js';
import { collect, evaluate, type SkippedTemplate } from '../../mapping/evaluate.js';
import { ambiguousBefore, identityFor, ReplicaIdentityMemory } from '../../mapping/replica-identity.js';
import type { Inspector } from '../verify/inspector.js';
import { changeVersion, txIdOf } from '../verify/row-version.js';
import type { MappingSet } from '../../mapping/mapping-set.js';
import { TemplateRenderError } from '../../mapping/template.js';
import { RateLimitedWarn } from '../../telemetry/rate-limited.js';
import type { Stats } from '../../telemetry/stats.js';
import { backoffDelay, sleep, type BackoffOptions } from '../../util/backoff.js';
import { heartbeatOf, SourceInterrupt } from '../control/interrupt.js';
import { OutageLog } from '../control/outage.js';
import { AbortedError } from '../control/retry.js';
import type { Readiness } from '../control/readiness.js';
import { DecodeError, DecoderUnavailableError } from '../decode/errors.js';
import { PoisonRecordError } from '../poison/poison.js';
import type { SourceBatch } from '../source/source.js';
import { BatchPlan } from './batch-plan.js';

/** What became of one record in the map step: named into the batch's plan (or skipped), or poison. */
export type Mapped = { readonly done: true } | { readonly poison: PoisonRecordError };
const DONE: Mapped = { done: true };

export interface MapperOptions {
  /** A record value larger than this is poison (`too_large`). */
  readonly maxRecordBytes: number;
  readonly backoff: BackoffOptions;
  /** How often an ongoing Schema Registry outage is logged (default 5 s). */
  readonly outageLogIntervalMs?: number;
}

export interface MapperDeps {
  readonly decode: RecordDecoder;
  readonly mappings: MappingSet;
  readonly logger: Logger;
  readonly stats: Stats;
  readonly readiness: Readiness;
  /** Aborted when the worker gives up work in flight. */
  readonly signal: AbortSignal;
  /** The inspector (--verify-sample): a sampled change's keys are queued into the plan. */
  readonly inspector?: Inspector;
}

/**
 * The decode → map stage, record by record: the size check, the decoder (waiting out a Schema
 * Registry outage), and the mappings, which report the names into the batch's plan. A record it
 * cannot handle comes back as poison, never as an exception.
 */
export class RecordMapper {
  readonly #warn: RateLimitedWarn;
  readonly #registryOutage: OutageLog;
  /** Each table's replica identity as the stream showed it (its latest update). */
  readonly #identities = new ReplicaIdentityMemory();
  /** The record being mapped (for the warning of a template that rendered no name). */
  #current: SourceRecord | undefined;

  constructor(private readonly opts: MapperOptions, private readonly deps: MapperDeps) {
    this.#warn = new RateLimitedWarn(deps.logger);
    this.#registryOutage = new OutageLog(deps.logger, { service: 'schema registry', intervalMs: opts.outageLogIntervalMs ?? 5_000 });
  }

  /** A fresh plan for one batch. */
  newPlan(): BatchPlan {
    return new BatchPlan((s) => this.#templateSkipped(s));
  }

  /** Decode → map for one record; awaits only when the decoder is asynchronous (registry lookups). */
  map(record: SourceRecord, plan: BatchPlan, batch: SourceBatch): Mapped | Promise<Mapped> {
    const tooLarge = this.#tooLarge(record);
    if (tooLarge) return tooLarge;
    try {
      const decoded = this.deps.decode(record);
      if (decoded instanceof Promise) return this.#mapAsync(record, plan, batch, decoded);
      return this.#collect(record, decoded, plan);
    } catch (e) {
      return this.#poisonOf(record, e);
    }
  }

  /**
   * A decode or map failure as poison: a DecodeError with its code; anything unexpected (a bug in
   * a decoder or the mapper) as `internal`, its stack kept for the dead-letter header — never an
   * exception that would restart the consumer in a loop. Stops and rebalances pass through.
   */
  #poisonOf(record: SourceRecord, e: unknown): Mapped {
    if (e instanceof AbortedError || e instanceof SourceInterrupt) throw e;
    if (e instanceof DecodeError) return { poison: new PoisonRecordError(record, e.code, e.message) };
    const err = e instanceof Error ? e : new Error(String(e));
    this.deps.logger.error({ at: recordRef(record), err }, 'unexpected error while decoding or mapping a record: treated as poison (internal)');
    return { poison: new PoisonRecordError(record, 'internal', `${err.name}: ${err.message}`, { cause: err }) };
  }

  /** A record value over the size limit is poison before it is even parsed. */
  #tooLarge(record: SourceRecord): Mapped | undefined {
    if (!record.value || record.value.length <= this.opts.maxRecordBytes) return undefined;
    return { poison: new PoisonRecordError(record, 'too_large', `value of ${record.value.length} bytes exceeds the ${this.opts.maxRecordBytes}-byte limit`) };
  }

  async #mapAsync(record: SourceRecord, plan: BatchPlan, batch: SourceBatch, pending: Promise<Decoded>): Promise<Mapped> {
    try {
      return this.#collect(record, await this.#decodeWaiting(record, pending, batch), plan);
    } catch (e) {
      return this.#poisonOf(record, e);
    }
  }

  /**
   * Awaits a decode, waiting out a decoder outage (the Schema Registry down, slow or answering 5xx):
   * not poison. Retried with the backoff while the batch stays ours (heartbeats go on); meanwhile
   * the worker is paused and not ready (reason `registry`), and nothing is committed past the record.
   */
  async #decodeWaiting(record: SourceRecord, first: Promise<Decoded>, batch: SourceBatch): Promise<Decoded> {
    const { logger, stats, signal } = this.deps;
    let pending = first;
    let release: (() => void) | undefined;
    let waiting: (() => void) | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await pending;
        } catch (e) {
          if (!(e instanceof DecoderUnavailableError)) throw e;
          release ??= this.deps.readiness.hold('registry');
          waiting ??= this.#registryOutage.begin({ what: 'decode', partition: `${record.topic}/${record.partition}` });
          this.#registryOutage.failed(e);
          stats.inc('registry_retries');
          const delay = backoffDelay(attempt, this.opts.backoff);
          if (attempt % 10 === 0) logger.warn({ at: recordRef(record), attempt, retryInMs: delay, err: e }, 'decoder unavailable (schema registry); retrying');
          if (signal.aborted || !batch.isActive()) throw new AbortedError('batch no longer active (rebalance or stop)');
          await heartbeatOf(() => batch.heartbeat());
          await sleep(delay, signal);
          if (signal.aborted) throw new AbortedError('decode retry: aborted');
          pending = Promise.resolve().then(() => this.deps.decode(record));
        }
      }
    } finally {
      waiting?.();
      if (release) {
        release();
        logger.info({ at: recordRef(record) }, 'decoder available again');
      }
    }
  }

  /** Maps one decoded record into the batch's plan. */
  #collect(record: SourceRecord, decoded: Decoded, plan: BatchPlan): Mapped {
    const { stats, logger } = this.deps;
    if (decoded.kind === 'skip') {
      stats.inc('skipped_records', { reason: decoded.reason });
      return DONE;
    }
    const event = this.#identities.apply(decoded.event);
    const namedBefore = plan.named;
    this.#current = record;
    let matched: number;
    try {
      matched = collect(event, this.deps.mappings, plan);
    } catch (e) {
      if (e instanceof TemplateRenderError) return { poison: new PoisonRecordError(record, 'template_render', e.message) };
      throw e; // becomes `internal` poison in #poisonOf
    }
    plan.countEvent(event.table, event.op);
    if (matched > 0 && (event.op === 'd' || event.identityHint)) this.#checkIdentity(record, event);
    if (matched === 0) {
      stats.inc('unmapped_events', { table: event.table });
      logger.debug({ table: event.table, at: recordRef(record) }, 'no mapping for table; skipped');
    }
    if (event.sourceTsMs !== undefined && plan.named > namedBefore) plan.sourceTimes.push(event.sourceTsMs);
    if (this.deps.inspector && plan.named > namedBefore && this.deps.inspector.sampled()) this.#sample(event, record, plan);
    return DONE;
  }

  /** A sampled change: its keys per mapping, with the row version it wrote (the slow path, for sampled changes only). */
  #sample(event: ChangeEvent, record: SourceRecord, plan: BatchPlan): void {
    const mappings = this.deps.mappings.forTable(event.table);
    const txId = mappings.some((m) => m.versionColumn === 'xmin') ? txIdOf(record.value) : undefined;
    for (const r of evaluate(event, this.deps.mappings).results) {
      if (!r.fired || r.keys.length === 0) continue;
      const m = mappings.find((x) => x.name === r.mapping);
      const version = m ? changeVersion(event, m, txId) : undefined;
      for (const key of r.keys) plan.verify.push({ mapping: r.mapping, key, version });
    }
  }

  /**
   * Says when a delete's before image was ambiguous (it may hold only the key) and nothing told the
   * table's identity — it was read as a full row — and when an update contradicts a mapping's
   * declared replica_identity (the stream wins). Rate-limited per table and mapping.
   */
  #checkIdentity(record: SourceRecord, event: ChangeEvent): void {
    for (const m of this.deps.mappings.forTable(event.table)) {
      if (!m.ops.has(event.op)) continue;
      if (ambiguousBefore(event, identityFor(event, m.replicaIdentity))) {
        this.deps.stats.inc('ambiguous_before_images', { table: event.table });
        this.#warn.warn(
          `ambiguous\u0000${event.table}`,
          { table: event.table, mapping: m.name, at: recordRef(record) },
          'a delete whose before image may hold only the key (REPLICA IDENTITY DEFAULT: every non-key column null, empty or its default) of a table whose identity is not known yet: read as the full old row. Declare replica_identity (full or default) in the mapping',
        );
        return;
      }
      if (event.identityHint && m.replicaIdentity && m.replicaIdentity !== event.identityHint) {
        this.#warn.warn(
          `contradicts\u0000${m.name}\u0000${event.table}`,
          { table: event.table, mapping: m.name, declared: m.replicaIdentity, seen: event.identityHint, at: recordRef(record) },
          `mapping "${m.name}" declares replica_identity ${m.replicaIdentity}, but an update of ${event.table} ${event.identityHint === 'full' ? 'carries' : 'has no'} a before image: the table's identity is ${event.identityHint.toUpperCase()}; the worker follows the stream (fix the mapping)`,
        );
      }
    }
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
}
