import type { ChangeEvent, RowImage } from '../domain/types.js';
import type { MappingSet } from './mapping-set.js';
import type { Mapping } from './model.js';
import { beforeIsKeyOnly, identityFor } from './replica-identity.js';
import { renderTemplate, TOAST_PLACEHOLDER, type MissingReason, type Template } from './template.js';

/** Why a template produced no name for one row image. */
export type SkipCause = MissingReason | 'no_before_image' | 'truncate';

export type TargetKind = 'key' | 'tag' | 'version';

export interface SkippedTemplate {
  readonly mapping: string;
  readonly kind: TargetKind;
  readonly template: string;
  readonly image: 'before' | 'after' | 'none';
  readonly reason: SkipCause;
  readonly column: string | undefined;
}

/** One matched mapping's outcome. `fired` false: the op is not in `ops`, or `when.changed` saw no change. */
export interface MappingResult {
  readonly mapping: string;
  readonly fired: boolean;
  readonly why?: 'op_not_selected' | 'unchanged';
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
  /** The mapping's own second-delete delay; undefined = the worker's. */
  readonly secondDeleteDelayMs: number | undefined;
}

/** What one change event invalidates. Pure data; the unions are de-duplicated. */
export interface Plan {
  readonly table: string;
  /** Names of the mappings that matched the table (fired or not). */
  readonly mappings: readonly string[];
  readonly results: readonly MappingResult[];
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly versions: readonly string[];
  readonly skipped: readonly SkippedTemplate[];
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

/** when.changed: fires when a listed column differs; when `before` is unknown it fires. */
function changed(m: Mapping, e: ChangeEvent): boolean {
  if (e.op !== 'u' || !m.whenChanged) return true;
  if (!e.before || !e.after) return true;
  return m.whenChanged.some((c) => e.after![c] !== TOAST_PLACEHOLDER && !sameValue(e.before![c], e.after![c]));
}

/**
 * Receives what one change event invalidates, name by name, as `collect` finds it. The worker's
 * batch implements it directly (no per-event Plan); `evaluate` builds a Plan with it.
 */
export interface PlanSink {
  /** A mapping matched the table but does not fire for this event. */
  notFired(m: Mapping, why: 'op_not_selected' | 'unchanged'): void;
  /** A mapping fires; the names that follow (until the next fired/notFired) are its own. */
  fired(m: Mapping): void;
  name(kind: TargetKind, name: string, m: Mapping): void;
  skip(s: SkippedTemplate): void;
}

function render(sink: PlanSink, m: Mapping, kind: TargetKind, t: Template, image: RowImage, which: 'before' | 'after', unavailable?: (c: string) => boolean): void {
  const r = renderTemplate(t, image, unavailable);
  if (r.ok) sink.name(kind, r.key, m);
  else sink.skip({ mapping: m.name, kind, template: t.source, image: which, reason: r.reason, column: r.column });
}

function apply(sink: PlanSink, m: Mapping, event: ChangeEvent, kind: TargetKind, templates: readonly Template[], keyColumns: ReadonlySet<string> | null, beforeUnavailable: ((c: string) => boolean) | undefined): void {
  const op = event.op;
  for (const t of templates) {
    if (op === 't') {
      if (t.columns.length === 0) render(sink, m, kind, t, {}, 'after');
      else sink.skip({ mapping: m.name, kind, template: t.source, image: 'none', reason: 'truncate', column: t.columns[0] });
      continue;
    }
    if (event.after && op !== 'd') render(sink, m, kind, t, event.after, 'after');
    if (op === 'u' || op === 'd') {
      if (event.before) {
        render(sink, m, kind, t, event.before, 'before', beforeUnavailable);
      } else if (op === 'u') {
        // REPLICA IDENTITY DEFAULT: no old image. Templates over key columns only are covered by
        // `after` (a key change arrives as delete + create); others may miss the old name.
        const nonKey = t.columns.find((c) => !keyColumns?.has(c));
        if (nonKey !== undefined) sink.skip({ mapping: m.name, kind, template: t.source, image: 'before', reason: 'no_before_image', column: nonKey });
      }
    }
  }
}

/**
 * Maps one change event to what it invalidates, reporting each name to `sink` (pure: no I/O).
 * - create / snapshot read: names from `after`;
 * - update: from `after` and `before`, so a changed key column invalidates the old and the new name;
 * - delete: from `before`;
 * - truncate: no row, so only templates without columns, plus `on_truncate`.
 * Names may repeat (the sink de-duplicates). Returns how many mappings matched the table.
 * Throws TemplateRenderError when a column holds a value no name can be made of (names already
 * reported for the event stay reported: deleting them too is harmless).
 */
export function collect(event: ChangeEvent, mappings: MappingSet, sink: PlanSink): number {
  const matched = mappings.forTable(event.table);
  if (matched.length === 0) return 0;
  const keyColumns = event.keyColumns ? new Set(event.keyColumns) : null;
  // A key-only image (REPLICA IDENTITY DEFAULT delete): only its key columns are real. Per mapping,
  // since a mapping may declare the table's identity (replica_identity); see replica-identity.ts.
  const keyOnly = keyColumns ? (c: string) => !keyColumns.has(c) : undefined;
  for (const m of matched) {
    const beforeUnavailable = beforeIsKeyOnly(event, identityFor(event, m.replicaIdentity)) ? keyOnly : undefined;
    if (!m.ops.has(event.op)) {
      sink.notFired(m, 'op_not_selected');
      continue;
    }
    if (!changed(m, event)) {
      sink.notFired(m, 'unchanged');
      continue;
    }
    sink.fired(m);
    apply(sink, m, event, 'key', m.keys, keyColumns, beforeUnavailable);
    apply(sink, m, event, 'tag', m.tags, keyColumns, beforeUnavailable);
    apply(sink, m, event, 'version', m.versions, keyColumns, beforeUnavailable);
    if (event.op === 't' && m.onTruncate) {
      apply(sink, m, event, 'key', m.onTruncate.keys, keyColumns, beforeUnavailable);
      apply(sink, m, event, 'tag', m.onTruncate.tags, keyColumns, beforeUnavailable);
      apply(sink, m, event, 'version', m.onTruncate.versions, keyColumns, beforeUnavailable);
    }
  }
  return matched.length;
}

/** Builds a Plan: per mapping results and the de-duplicated unions. */
class PlanBuilder implements PlanSink {
  readonly results: MappingResult[] = [];
  readonly skipped: SkippedTemplate[] = [];
  readonly all = { key: new Set<string>(), tag: new Set<string>(), version: new Set<string>() };
  #current: { m: Mapping; key: Set<string>; tag: Set<string>; version: Set<string> } | undefined;

  notFired(m: Mapping, why: 'op_not_selected' | 'unchanged'): void {
    this.#close();
    this.results.push({ mapping: m.name, secondDeleteDelayMs: m.secondDeleteDelayMs, fired: false, why, keys: [], tags: [], versions: [] });
  }

  fired(m: Mapping): void {
    this.#close();
    this.#current = { m, key: new Set(), tag: new Set(), version: new Set() };
  }

  name(kind: TargetKind, name: string): void {
    this.#current![kind].add(name);
    this.all[kind].add(name);
  }

  skip(s: SkippedTemplate): void {
    this.skipped.push(s);
  }

  finish(): void {
    this.#close();
  }

  #close(): void {
    const c = this.#current;
    if (!c) return;
    this.#current = undefined;
    this.results.push({ mapping: c.m.name, secondDeleteDelayMs: c.m.secondDeleteDelayMs, fired: true, keys: [...c.key], tags: [...c.tag], versions: [...c.version] });
  }
}

/** Maps one change event to a Plan of what it invalidates (for explain, tests, tap). See `collect`. */
export function evaluate(event: ChangeEvent, mappings: MappingSet): Plan {
  const b = new PlanBuilder();
  collect(event, mappings, b);
  b.finish();
  return {
    table: event.table,
    mappings: mappings.forTable(event.table).map((m) => m.name),
    results: b.results,
    keys: [...b.all.key],
    tags: [...b.all.tag],
    versions: [...b.all.version],
    skipped: b.skipped,
  };
}
