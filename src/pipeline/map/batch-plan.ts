import { CHANGE_OPS, type ChangeOp } from '../../domain/types.js';
import type { Stats } from '../../telemetry/stats.js';
import type { PlanSink, SkippedTemplate, TargetKind } from '../../mapping/evaluate.js';
import type { Mapping } from '../../mapping/model.js';
import type { VerifyCandidate } from '../verify/inspector.js';

/** Names of one pass that one mapping brought into the batch (each name once per pass, with the first mapping that named it). */
export interface NameGroup {
  readonly mapping: string;
  readonly names: readonly string[];
}

/** One pass over Redis: keys to UNLINK, tag sets to purge, version counters to bump. */
export interface Invalidation {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
  /** `keys` and `tags` by the mapping that named them first, so what each pass removed is counted per mapping. */
  readonly keyGroups: readonly NameGroup[];
  readonly tagGroups: readonly NameGroup[];
}

/**
 * De-duplicated names by mapping: a Set for the names seen, an array per mapping for the ones it
 * brought first. Adding costs one Set insertion and, for a new name, one push.
 */
class Names {
  readonly seen = new Set<string>();
  readonly groups = new Map<string, string[]>();

  /** The array of `mapping`'s names (created on first use). */
  group(mapping: string): string[] {
    let g = this.groups.get(mapping);
    if (!g) this.groups.set(mapping, (g = []));
    return g;
  }

  add(name: string, group: string[]): void {
    const n = this.seen.size;
    this.seen.add(name);
    if (this.seen.size !== n) group.push(name);
  }

  clone(): Names {
    const c = new Names();
    for (const n of this.seen) c.seen.add(n);
    for (const [m, g] of this.groups) c.groups.set(m, [...g]);
    return c;
  }

  list(): NameGroup[] {
    const out: NameGroup[] = [];
    for (const [mapping, names] of this.groups) if (names.length > 0) out.push({ mapping, names });
    return out;
  }
}

interface SecondPass {
  readonly keys: Names;
  readonly tags: Names;
}

/** The names of one second pass: its delay (undefined = the worker's) and kind, by mapping. */
export interface SecondPassGroup {
  readonly delay: number | undefined;
  readonly kind: 'key' | 'tag';
  readonly groups: readonly NameGroup[];
}

/**
 * What one batch invalidates, de-duplicated: one first pass, a second pass per delay. It is the
 * PlanSink `collect` reports names into, so no per-event plan is built on the hot path.
 */
export class BatchPlan implements PlanSink {
  readonly #keys = new Names();
  readonly #tags = new Names();
  readonly #versions = new Set<string>();
  /**
   * Second passes of mappings with a delay of their own (`second_delete_delay`). The worker's
   * delay is the common case: while only such mappings fired, its second pass is the first pass
   * (no second set per batch); from the first other mapping on, it is kept apart.
   */
  readonly #second = new Map<number, SecondPass>();
  #defaultPass: SecondPass | undefined;
  /** Where the names of the mapping being reported go besides the first pass (undefined: nowhere else). */
  #pass: SecondPass | undefined;
  /** The arrays the mapping being reported adds its new names to: first pass, and #pass when set. */
  #firstKeys: string[] = [];
  #firstTags: string[] = [];
  #passKeys: string[] = [];
  #passTags: string[] = [];
  #first: Invalidation | undefined;
  /** Names reported so far (repeats included): tells whether an event named anything. */
  named = 0;

  /** Keys of the changes the inspector sampled, checked after the batch's second passes (empty when off). */
  readonly verify: VerifyCandidate[] = [];

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
    this.#firstKeys = this.#keys.group(m.name);
    this.#firstTags = this.#tags.group(m.name);
    const delay = m.secondDeleteDelayMs;
    if (delay === undefined) {
      this.#pass = this.#defaultPass;
    } else {
      // Names so far came from mappings on the worker's delay only: they are its second pass.
      this.#defaultPass ??= { keys: this.#keys.clone(), tags: this.#tags.clone() };
      let pass = this.#second.get(delay);
      if (!pass) this.#second.set(delay, (pass = { keys: new Names(), tags: new Names() }));
      this.#pass = pass;
    }
    if (this.#pass) {
      this.#passKeys = this.#pass.keys.group(m.name);
      this.#passTags = this.#pass.tags.group(m.name);
    }
  }

  name(kind: TargetKind, name: string): void {
    this.named++;
    if (kind === 'key') {
      this.#keys.add(name, this.#firstKeys);
      this.#pass?.keys.add(name, this.#passKeys);
    } else if (kind === 'tag') {
      this.#tags.add(name, this.#firstTags);
      this.#pass?.tags.add(name, this.#passTags);
    } else {
      this.#versions.add(name);
    }
  }

  skip(s: SkippedTemplate): void {
    this.onSkip(s);
  }

  firstPass(): Invalidation {
    this.#first ??= {
      keys: [...this.#keys.seen],
      tags: [...this.#tags.seen],
      versions: [...this.#versions],
      keyGroups: this.#keys.list(),
      tagGroups: this.#tags.list(),
    };
    return this.#first;
  }

  /** The second passes to schedule: per delay (undefined = the worker's), keys and tags (empty ones left out). */
  secondPasses(): SecondPassGroup[] {
    const out: SecondPassGroup[] = [];
    const first = this.firstPass();
    const own = this.#defaultPass;
    const keys = own ? own.keys.list() : first.keyGroups;
    const tags = own ? own.tags.list() : first.tagGroups;
    if (keys.length > 0) out.push({ delay: undefined, kind: 'key', groups: keys });
    if (tags.length > 0) out.push({ delay: undefined, kind: 'tag', groups: tags });
    for (const [delay, pass] of this.#second) {
      if (pass.keys.seen.size > 0) out.push({ delay, kind: 'key', groups: pass.keys.list() });
      if (pass.tags.seen.size > 0) out.push({ delay, kind: 'tag', groups: pass.tags.list() });
    }
    return out;
  }
}
