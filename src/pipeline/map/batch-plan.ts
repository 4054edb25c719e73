import { CHANGE_OPS, type ChangeOp } from '../../domain/types.js';
import type { Stats } from '../../telemetry/stats.js';
import type { PlanSink, SkippedTemplate, TargetKind } from '../../mapping/evaluate.js';
import type { Mapping } from '../../mapping/model.js';

/** One pass over Redis: keys to UNLINK, tag sets to purge, version counters to bump. */
export interface Invalidation {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
}

interface SecondPass {
  readonly keys: Set<string>;
  readonly tags: Set<string>;
}

/** The names of one second pass: its delay (undefined = the worker's) and kind. */
export interface SecondPassGroup {
  readonly delay: number | undefined;
  readonly kind: 'key' | 'tag';
  readonly names: readonly string[];
}

/**
 * What one batch invalidates, de-duplicated: one first pass, a second pass per delay. It is the
 * PlanSink `collect` reports names into, so no per-event plan is built on the hot path.
 */
export class BatchPlan implements PlanSink {
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

  /** Adds the batch's event counts to the stats (once per batch, not per event). */
  reportEvents(stats: Stats): void {
    for (const [table, byOp] of this.events) {
      for (const op of CHANGE_OPS) if (byOp[op] > 0) stats.inc('events', { table, op }, byOp[op]);
    }
  }

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
  secondPasses(): SecondPassGroup[] {
    const out: SecondPassGroup[] = [];
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
